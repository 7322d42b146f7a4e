"""HTTP surfaces: the ingress app (webhooks, health, metrics)."""
