"""Interlock transforms (registered on import)."""
