"""verify: real reads and writes on every primary, key counts and content digests against a baseline."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["baseline", "run"]
