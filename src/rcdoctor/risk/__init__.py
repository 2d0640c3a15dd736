"""Failure-domain risk analysis (pure): what losing each domain (or pair of domains) does to a cluster."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["analysis"]
