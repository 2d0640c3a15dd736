"""Kubernetes probes: verdicts from a node's replies (verdict.py, pure) and the small RESP client they use
(resp.py). Kept apart from collect/ on purpose: importing collect/ imports redis-py, which would triple a
probe's start-up time, and probes run every few seconds on every pod."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["resp", "verdict"]
