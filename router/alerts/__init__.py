"""Operator alerts: dead letters, parked instances and SLA misses, aggregated per interval."""
