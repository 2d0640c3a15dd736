"""Small wording helpers shared by the checks' titles and evidence."""

from __future__ import annotations

from collections.abc import Iterable

from rcdoctor.model.cluster_nodes import ClusterNode
from rcdoctor.model.slots import SlotRange, count_slots, format_ranges


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def slots_text(ranges: Iterable[SlotRange], limit: int = 6) -> str:
    ranges = tuple(ranges)
    return f"{format_ranges(ranges, limit=limit)} ({plural(count_slots(ranges), 'slot')})"


def role(entry: ClusterNode | None) -> str:
    if entry is None:
        return "node"
    if entry.is_primary:
        return "primary" if entry.slots else "primary without slots"
    return "replica" if entry.is_replica else "node"


def noaddr_outlook(noaddr_failover: bool | None) -> str:
    """What happens to a noaddr primary's slots by themselves, true on the servers the cluster runs."""
    if noaddr_failover:
        return "Valkey marks a noaddr primary FAIL after node-timeout: its replica takes over by itself"
    if noaddr_failover is None:
        return "Redis runs no failure detection on noaddr nodes (Valkey 8.1 does): a replica may not take over"
    return "Redis runs no failure detection on noaddr nodes: no replica takes over by itself"
