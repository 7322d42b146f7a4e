"""Interlock connectors (registered on import)."""
