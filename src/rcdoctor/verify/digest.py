"""A content digest of a cluster's keys, per slot, that does not depend on which node holds them.

For every key on every primary (SCAN, then pipelined DUMP) the digest mixes a 64-bit hash of the key name
and its DUMP payload without the trailing RDB version and CRC (10 bytes), so the same data digests the
same after a MIGRATE, a failover or a Redis upgrade of the RDB format version. Per slot: the key count
and the XOR of the key hashes (order-free, so SCAN order and node do not matter). Redis's own `DEBUG
DIGEST` would do the mixing server-side but DEBUG is disabled by default since 7.0.

Caveats the report states: keys that expire or are written between a baseline and a check change it;
an encoding change of the same value (e.g. listpack vs ziplist across versions) changes its payload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from rcdoctor.model.address import Endpoint
from rcdoctor.model.slots import SLOT_COUNT, key_hash_slot
from rcdoctor.transport.errors import AskRedirect, ServerError
from rcdoctor.transport.link import Link
from rcdoctor.transport.options import ConnectOptions

SCAN_COUNT = 1000
PROBE_PREFIX = b"rcdoctor:verify:"  # verify's own probe keys never count


@dataclass
class SlotDigest:
    counts: list[int] = field(default_factory=lambda: [0] * SLOT_COUNT)
    hashes: list[int] = field(default_factory=lambda: [0] * SLOT_COUNT)
    unreadable: int = 0  # keys in slots the node neither owns nor imports (not digested)

    @property
    def keys(self) -> int:
        return sum(self.counts)

    @property
    def total(self) -> str:
        combined = 0
        for value in self.hashes:
            combined ^= value
        return f"{combined:016x}"

    def merge(self, other: SlotDigest) -> None:
        for slot in range(SLOT_COUNT):
            self.counts[slot] += other.counts[slot]
            self.hashes[slot] ^= other.hashes[slot]
        self.unreadable += other.unreadable


def key_hash(key: bytes, payload: bytes) -> int:
    body = payload[:-10] if len(payload) > 10 else payload
    h = hashlib.blake2b(digest_size=8)
    h.update(len(key).to_bytes(4, "big"))
    h.update(key)
    h.update(body)
    return int.from_bytes(h.digest(), "big")


def node_digest(endpoint: Endpoint, options: ConnectOptions, timeout: float = 30.0) -> SlotDigest:
    """Digest of every key one node holds (run on primaries: replicas hold the same keys)."""
    link = Link(endpoint, options, timeout=timeout)
    try:
        return _scan(link)
    finally:
        link.close()


def _scan(link: Link) -> SlotDigest:
    digest = SlotDigest()
    cursor: Any = b"0"
    while True:
        cursor, keys = link.one("SCAN", cursor, "COUNT", SCAN_COUNT)
        digest_keys(link, [k for k in keys if not k.startswith(PROBE_PREFIX)], digest)
        if cursor in (b"0", 0, "0"):
            return digest


def digest_keys(link: Link, keys: list[bytes], digest: SlotDigest) -> None:
    """Add the node's copy of each of `keys` (just listed by SCAN) to `digest`."""
    # ASKING before each DUMP: keys of a slot this node is IMPORTING are answered only after it
    # (else MOVED), and a digest taken mid-migration must still count them where they are.
    replies = link.run([c for k in keys for c in (("ASKING",), ("DUMP", k))])[1::2]
    for key, payload in zip(keys, replies, strict=True):
        if payload is None or isinstance(payload, AskRedirect):
            # Gone since SCAN: expired, deleted, or (-ASK: a slot this node is MIGRATING) moved to the
            # importing node, counted there if that node's scan sees it. Not a key this node cannot read.
            continue
        if isinstance(payload, ServerError):
            # A key in a slot this node neither owns nor imports (S003): readable only by changing
            # the slot's state, which verify never does. Counted, not digested.
            digest.unreadable += 1
            continue
        slot = key_hash_slot(key)
        digest.counts[slot] += 1
        digest.hashes[slot] ^= key_hash(key, payload)
