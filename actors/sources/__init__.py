"""Interlock sources (registered on import)."""
