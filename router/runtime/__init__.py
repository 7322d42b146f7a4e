"""The actor runtime: credit, the loop bridge, and the journal, route and connector actors."""
