"""Cluster mode: N router instances share partitioned work on a NATS JetStream backbone."""
