"""The benchmark scenarios: the in-process pipeline and HTTP durable ingest."""
