"""`CLUSTER SLOT-STATS` (Valkey 8.0+, Redis 8.2+): exact key counts of the slots a primary owns (pure).

The server reports only the slots assigned to its own shard, so it cannot list keys a node holds in
slots it does not own; but DBSIZE minus the sum of those counts is exactly how many it holds there (S003
without sampling). RESP2 replies are `[[slot, ["key-count", n, ...]], ...]`; redis-py with RESP3 (or its
own callbacks) gives `[[slot, {"key-count": n}], ...]`: both are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rcdoctor.model.parsed import Parsed
from rcdoctor.model.server import ServerIdentity

SLOT_STATS = "CLUSTER SLOT-STATS"
SLOT_STATS_COMMAND = ("CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "16383")


def has_slot_stats(identity: ServerIdentity | None) -> bool:
    return identity is not None and identity.at_least(redis=(8, 2), valkey=(8, 0))


def parse_slot_stats(reply: Any) -> Parsed[dict[int, int]]:
    """slot -> key count; entries it cannot read are errors, never a guess."""
    counts: dict[int, int] = {}
    errors: list[str] = []
    if not isinstance(reply, list):
        return Parsed({}, ("not a list of slot entries",))
    for index, entry in enumerate(reply):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int)):
            errors.append(f"entry {index}: not [slot, stats]")
            continue
        stats = entry[1]
        if isinstance(stats, list):
            stats = dict(zip(stats[::2], stats[1::2], strict=False))
        value = _field(stats, "key-count") if isinstance(stats, Mapping) else None
        if not isinstance(value, int):
            errors.append(f"slot {entry[0]}: no key-count")
            continue
        counts[entry[0]] = value
    return Parsed(counts, tuple(errors))


def with_keys(reply: Any) -> Any:
    """The reply without its slots of key-count 0: what a snapshot keeps. A primary answers one entry per
    slot of its own (5,461 in a 3-shard cluster, ~140 KB of JSON), nearly all 0 on a small data set, and
    only the counts' sum is used (S003). Entries it cannot read are kept, so the parser still reports them."""
    if not isinstance(reply, list):
        return reply
    kept = []
    for entry in reply:
        single = parse_slot_stats([entry])
        if not single.ok or any(single.value.values()):
            kept.append(entry)
    return kept


def _field(stats: Mapping[Any, Any], name: str) -> Any:
    for key, value in stats.items():
        if (key.decode() if isinstance(key, bytes) else str(key)).lower() == name:
            return value
    return None
