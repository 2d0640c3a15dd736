"""Parsers for the array replies `CLUSTER SLOTS`, `CLUSTER SHARDS` and `CLUSTER LINKS`.

Replies are stored in snapshots as JSON values (bytes decoded), so these parsers take `object`
and check every shape themselves: a reply from a foreign server or a hand-edited file is an error
record, not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from rcdoctor.model.address import Endpoint
from rcdoctor.model.parsed import Parsed
from rcdoctor.model.slots import SLOT_COUNT, SlotRange


@dataclass(frozen=True)
class SlotOwner:
    endpoint: Endpoint | None  # None when the server announces no usable address ('?' or '')
    node_id: str | None
    hostname: str | None = None


@dataclass(frozen=True)
class SlotsEntry:
    range: SlotRange
    primary: SlotOwner
    replicas: tuple[SlotOwner, ...]


def parse_cluster_slots(reply: object) -> Parsed[tuple[SlotsEntry, ...]]:
    if not isinstance(reply, list):
        return Parsed((), (f"expected an array, got {type(reply).__name__}",))
    entries: list[SlotsEntry] = []
    errors: list[str] = []
    for index, item in enumerate(reply):
        try:
            entries.append(_slots_entry(item))
        except (TypeError, ValueError) as exc:
            errors.append(f"entry {index}: {exc}")
    return Parsed(tuple(entries), tuple(errors))


def _slots_entry(item: object) -> SlotsEntry:
    if not isinstance(item, list) or len(item) < 3:
        raise ValueError("expected [start, end, primary, replicas…]")
    start, end = _int(item[0]), _int(item[1])
    if not 0 <= start <= end < SLOT_COUNT:
        raise ValueError(f"bad slot range {start}-{end}")
    owners = [_owner(node) for node in item[2:]]
    return SlotsEntry(SlotRange(start, end), owners[0], tuple(owners[1:]))


def _owner(node: object) -> SlotOwner:
    if not isinstance(node, list) or len(node) < 2:
        raise ValueError("expected [host, port, id…]")
    host, port = node[0], _int(node[1])
    if not isinstance(host, str):
        raise TypeError("host is not a string")
    node_id = node[2] if len(node) > 2 and isinstance(node[2], str) else None
    hostname = None
    if len(node) > 3:  # Redis 7: a map (RESP2: flat list) of extra networking metadata
        meta = pairs_to_dict(node[3])
        value = meta.get("hostname")
        hostname = value if isinstance(value, str) else None
    endpoint = Endpoint(host, port) if host not in ("", "?") and port else None
    return SlotOwner(endpoint, node_id, hostname)


def pairs_to_dict(value: object) -> dict[str, object]:
    """RESP2 encodes maps as flat [k1, v1, k2, v2…] lists; RESP3/JSON may already be a dict."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list) and len(value) % 2 == 0:
        return {str(value[i]): value[i + 1] for i in range(0, len(value), 2)}
    return {}


def parse_cluster_links(reply: object) -> Parsed[tuple[dict[str, object], ...]]:
    """CLUSTER LINKS (Redis 7+): one map per bus link (direction, node, create-time, events…)."""
    if not isinstance(reply, list):
        return Parsed((), (f"expected an array, got {type(reply).__name__}",))
    links = []
    errors = []
    for index, item in enumerate(reply):
        link = pairs_to_dict(item)
        if link:
            links.append(link)
        else:
            errors.append(f"entry {index}: expected a map")
    return Parsed(tuple(links), tuple(errors))


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)
