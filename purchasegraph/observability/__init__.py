"""What the gateway tells operators: Prometheus metrics, JSON log lines and (optionally) traces."""
