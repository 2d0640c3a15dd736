"""Hash slots and slot ranges."""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass

SLOT_COUNT = 16384


@dataclass(frozen=True, order=True)
class SlotRange:
    """An inclusive range of hash slots."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start + 1

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(range(self.start, self.end + 1))

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


def to_ranges(slots: Iterable[int]) -> tuple[SlotRange, ...]:
    """Compress slot numbers into sorted, merged ranges."""
    ranges: list[SlotRange] = []
    for slot in sorted(set(slots)):
        if ranges and ranges[-1].end + 1 == slot:
            ranges[-1] = SlotRange(ranges[-1].start, slot)
        else:
            ranges.append(SlotRange(slot, slot))
    return tuple(ranges)


def count_slots(ranges: Iterable[SlotRange]) -> int:
    return sum(len(r) for r in ranges)


def format_ranges(ranges: Iterable[SlotRange], limit: int = 4) -> str:
    """`0-5460,5462` style, shortened after `limit` ranges (`… +3 ranges`)."""
    items = list(ranges)
    if not items:
        return "-"
    text = ",".join(str(r) for r in items[:limit])
    if len(items) > limit:
        text += f" … +{len(items) - limit} ranges"
    return text


def key_hash_slot(key: bytes | str) -> int:
    """The slot a key maps to (CRC16/XMODEM of the hash tag, modulo 16384), as the server computes it."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start != -1:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return _crc16(data) % SLOT_COUNT


def _crc16(data: bytes) -> int:
    # CRC16/XMODEM, the one Redis uses; binascii's C version is ~50x faster than a loop here (digests
    # hash every key of a cluster).
    return binascii.crc_hqx(data, 0)
