"""Plain data and pure parsers: no I/O happens in this package."""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = [
    "address",
    "cluster_nodes",
    "cluster_slots",
    "command",
    "domain_files",
    "domains",
    "info",
    "journals",
    "key_diff",
    "kubernetes",
    "node_ref",
    "parse_cache",
    "replication",
    "server",
    "slot_migrations",
    "slot_stats",
    "slots",
    "snapshot",
    "sources",
    "view",
]
