"""The chaos rehearsal: seeded rounds of faults on a real lab, each diagnosed, healed and verified."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["generator", "run"]
