"""Prometheus exporter: metrics (pure), service-discovery targets (pure) and the HTTP server."""
