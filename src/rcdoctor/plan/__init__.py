"""Pure planners: a snapshot (and facts) in, a plan of typed steps out; no I/O, no redis-py.

`heal` and its phase planners (`addresses`, `config`, `rebuild`, `rejoin`, `roles`, `slots`) plan a heal;
`moves`, `placement` and `topology` plan slot moves; `resume` decides how an open slot is closed. `steps`
holds the step types and `conditions` their typed preconditions.
"""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = [
    "conditions",
    "config",
    "heal",
    "moves",
    "placement",
    "rejoin",
    "resume",
    "steps",
    "topology",
]
