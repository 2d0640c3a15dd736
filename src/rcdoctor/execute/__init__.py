"""Carrying out a plan: each step's precondition read from the live node right before it acts, every step
journaled (`journal`), what a step needs on the way (`preconditions`, `failovers` held, `salvage` of a
copy's keys, `strays` returned to their owner, replica `links` waited on)."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = [
    "failovers",
    "journal",
    "links",
    "salvage",
    "steps",
]
