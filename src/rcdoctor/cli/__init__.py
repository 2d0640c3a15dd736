"""Command-line entry points. No logic of their own: they parse, call the library, print."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["entry"]
