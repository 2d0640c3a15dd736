"""Split-brain rehearsal: clients on both sides of a real partition, a recorded history, a checker."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["checker", "client", "history", "run"]
