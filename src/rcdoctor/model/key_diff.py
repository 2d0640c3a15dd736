"""What a key-by-key comparison of two nodes finds (pure data: the planner and the reports read it without
talking to a node; divergence.compare produces it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Copy:
    payload: bytes  # DUMP
    pttl: int  # -1: no expiry
    idle: int | None = None  # OBJECT IDLETIME: seconds since last read or write (None: LFU policy, unknown)

    def same_value(self, other: Copy) -> bool:
        return _body(self.payload) == _body(other.payload)


@dataclass(frozen=True)
class KeyDiff:
    key: bytes
    slot: int
    a: Copy | None
    b: Copy | None

    @property
    def kind(self) -> str:
        if self.a is None:
            return "only-b"
        if self.b is None:
            return "only-a"
        return "differ"


@dataclass
class Tally:
    identical: int = 0
    only_a: int = 0
    only_b: int = 0
    differ: int = 0

    def add(self, diff: KeyDiff | None) -> None:
        if diff is None:
            self.identical += 1
        elif diff.kind == "only-a":
            self.only_a += 1
        elif diff.kind == "only-b":
            self.only_b += 1
        else:
            self.differ += 1


def _body(payload: bytes) -> bytes:
    # Without the 10-byte trailer (RDB version and CRC): the same value DUMPed by 6.2 and 7.0 compares equal.
    return payload[:-10] if len(payload) > 10 else payload
