"""Key-by-key comparison of two nodes' keys in given slots (read-only).

Used where two nodes hold keys of the same slots and one side is about to be dropped: a node that came
back without nodes.conf holding a stale copy of slots another primary serves (heal), or the two sides
of a split-brain (their contested slots). For each slot: the key names on both sides (COUNTKEYSINSLOT,
GETKEYSINSLOT), then DUMP and PTTL of every key on both. DUMP payloads are compared without their
10-byte trailer (RDB version and CRC), so the same value read from 6.2 and 7.0 compares equal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rcdoctor.errors import DoctorError
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.key_diff import Copy, KeyDiff, Tally
from rcdoctor.transport.errors import AskRedirect, ServerError, TransportError
from rcdoctor.transport.link import Link
from rcdoctor.transport.options import ConnectOptions

SLOTS_PER_ROUND = 128
KEYS_PER_ROUND = 1000
READS_WHEN_DOWN = "cluster-allow-reads-when-down"


class CompareError(DoctorError):
    """A node refused a read (e.g. MOVED: it serves neither the slot nor an import of it)."""


def differences(a: Link, b: Link, slots: Iterable[int], tally: Tally | None = None) -> Iterator[KeyDiff]:
    """Every key of `slots` whose value differs between the two nodes or that only one holds. `tally`
    (if given) also counts the identical ones. Raises CompareError when a node refuses to read a slot."""
    ordered = sorted(set(slots))
    for start in range(0, len(ordered), SLOTS_PER_ROUND):
        chunk = ordered[start : start + SLOTS_PER_ROUND]
        names_a, names_b = _names(a, chunk), _names(b, chunk)
        # Round trips, not bytes, are the cost: the keys of many slots are read in one pipeline per side.
        pairs = [(slot, key) for slot in chunk for key in sorted(set(names_a[slot]) | set(names_b[slot]))]
        for first in range(0, len(pairs), KEYS_PER_ROUND):
            batch = pairs[first : first + KEYS_PER_ROUND]
            keys = [key for _, key in batch]
            for (slot, key), one, other in zip(batch, _copies(a, keys), _copies(b, keys), strict=True):
                if one is None and other is None:
                    continue  # expired or deleted on both between listing and reading
                same = one is not None and other is not None and one.same_value(other)
                diff = None if same else KeyDiff(key, slot, one, other)
                if tally is not None:
                    tally.add(diff)
                if diff is not None:
                    yield diff


def _names(link: Link, slots: Sequence[int]) -> dict[int, list[bytes]]:
    counts = _checked(link, link.run([("CLUSTER", "COUNTKEYSINSLOT", s) for s in slots]))
    wanted = [(s, int(n)) for s, n in zip(slots, counts, strict=True) if int(n)]
    lists = _checked(link, link.run([("CLUSTER", "GETKEYSINSLOT", s, n) for s, n in wanted]))
    names: dict[int, list[bytes]] = {s: [] for s in slots}
    for (slot, _), keys in zip(wanted, lists, strict=True):
        names[slot] = list(keys)
    return names


def _copies(link: Link, keys: Sequence[bytes], follow: bool = True) -> list[Copy | None]:
    # ASKING before each read: a node IMPORTING a slot answers for its keys only after it. IDLETIME is read
    # first (DUMP does not touch a key's access time, but keep the order obvious); it fails under an LFU
    # maxmemory-policy, which only costs us the hint.
    commands: list[tuple[Any, ...]] = []
    for k in keys:
        commands += [("ASKING",), ("OBJECT", "IDLETIME", k), ("ASKING",), ("DUMP", k), ("ASKING",), ("PTTL", k)]
    replies = link.run(commands)
    found: list[Copy | None] = []
    asked: dict[tuple[str, int], tuple[AskRedirect, list[int]]] = {}
    for i in range(len(keys)):
        idle, payload, pttl = replies[6 * i + 1], replies[6 * i + 3], replies[6 * i + 5]
        ask = next((r for r in (payload, pttl) if isinstance(r, AskRedirect)), None)
        if ask is not None and follow:
            # A node MIGRATING the slot answers -ASK for a key it no longer holds (ASKING does not change
            # that): if the key still exists it is on the importing node, and that is this side's copy.
            asked.setdefault(ask.node_addr, (ask, []))[1].append(i)
            found.append(None)  # replaced below by what the importing node holds
            continue
        _checked(link, [r for j, r in enumerate(replies[6 * i : 6 * i + 6]) if j != 1])  # IDLETIME: a hint
        hint = int(idle) if isinstance(idle, int) else None
        found.append(None if payload is None else Copy(bytes(payload), int(pttl), hint))
    for ask, indexes in asked.values():
        try:
            there = link.asked(ask)
        except (TransportError, OSError) as exc:
            raise CompareError(
                f"{link.endpoint} sends keys of slot {ask.slot_id} to {ask.host}:{ask.port}, unreadable: {exc}"
            ) from None
        try:
            # Once: the importing node answers them itself (or refuses, a CompareError naming it).
            for i, copy in zip(indexes, _copies(there, [keys[i] for i in indexes], follow=False), strict=True):
                found[i] = copy
        finally:
            there.close()
    return found


def _checked(link: Link, replies: list[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, ServerError):
            raise CompareError(f"{link.endpoint}: {reply}")
    return replies


@contextlib.contextmanager
def linked(address_a: str, address_b: str, options: ConnectOptions, timeout: float) -> Iterator[tuple[Link, Link]]:
    """Links to both nodes, both closed at the end (connection errors are redis-py's, for the caller)."""
    a = Link(parse_hostport(address_a), options, timeout=timeout)
    try:
        b = Link(parse_hostport(address_b), options, timeout=timeout)
        try:
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


@contextlib.contextmanager
def reads_allowed(link: Link) -> Iterator[None]:
    """A node whose cluster state is fail (a lone node, a primary cut off on the minority side) answers
    CLUSTERDOWN to key reads: let reads through for the comparison (writes stay refused), then put the
    setting back as it was."""
    try:
        reply = link.one("CONFIG", "GET", READS_WHEN_DOWN)
        values = list(reply.values()) if isinstance(reply, dict) else list(reply[1:2])
        before = values[0] if values else b"no"
        if before != b"yes":
            link.one("CONFIG", "SET", READS_WHEN_DOWN, "yes")
    except ServerError as exc:
        raise CompareError(f"{link.endpoint}: cannot enable {READS_WHEN_DOWN} to read its keys ({exc})") from None
    try:
        yield
    finally:
        if before != b"yes":
            with contextlib.suppress(TransportError, OSError):  # the node may be gone; the setting only allows reads
                link.one("CONFIG", "SET", READS_WHEN_DOWN, before)
