"""Prometheus exporter: metrics (pure), service-discovery targets (pure) and the HTTP server."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["server"]
