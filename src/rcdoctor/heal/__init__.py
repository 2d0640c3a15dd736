"""heal as one operation (`operation`: survey, plan, run, judge) over the heal session (`session`: the
rounds of plan, carry out, settle)."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["operation", "session"]
