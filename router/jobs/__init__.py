"""Scheduled jobs and reconciliation: the fourth integration pattern (docs/reconciliation.md)."""
