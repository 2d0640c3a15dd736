"""Two nodes' copies of the same slots compared key by key, and the differences kept in a file."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["compare", "report"]
