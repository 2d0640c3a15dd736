"""Split-brain data: which slots two primaries both claim, what differs between them, and putting back
the writes an operator chooses (contested.py is pure; diff.py and restore.py talk to the nodes)."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["diff", "restore"]
