"""The checker: what a rehearsal's history and the final reads say happened (pure).

- lost: acknowledged writes whose value is not what the cluster returns at the end, unless another write
  of that key which may have landed (acknowledged, or unknown: it timed out) and was not over before this
  one began (later, or concurrent) explains the final value;
- minority window: writes the cut-off primary acknowledged after the partition began: how many, and
  for how long (last such acknowledgement minus the partition start);
- unavailability per client: the longest stretch without any acknowledged operation, from the first
  failed/unknown one, and the total of such stretches;
- conflicts: keys acknowledged on both sides while partitioned (the seed's Key_A written as abc on one
  side and def on the other) with what each side wrote and which value survived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rcdoctor.rehearsal.history import FAIL, OK, Op, Phases


@dataclass(frozen=True)
class Conflict:
    key: str
    values: Mapping[str, tuple[str, ...]]  # client -> values it wrote (acknowledged) during the partition
    final: str | None


@dataclass(frozen=True)
class Outage:
    client: str
    longest_s: float
    total_s: float
    failed: int
    unknown: int


@dataclass(frozen=True)
class RehearsalVerdict:
    acknowledged: int
    lost: tuple[Op, ...]
    window_writes: int  # acknowledged by the cut-off side after the partition began
    window_s: float
    window_lost: int
    outages: tuple[Outage, ...]
    conflicts: tuple[Conflict, ...]
    ops: int
    unknown: int
    phases: Phases
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "operations": self.ops,
            "acknowledged_writes": self.acknowledged,
            "unknown": self.unknown,
            "lost": len(self.lost),
            "lost_writes": [op.to_dict() for op in self.lost],
            "minority_window": {
                "writes_acknowledged": self.window_writes,
                "seconds": round(self.window_s, 3),
                "writes_lost": self.window_lost,
            },
            "unavailability": [
                {
                    "client": o.client,
                    "longest_s": round(o.longest_s, 3),
                    "total_s": round(o.total_s, 3),
                    "failed": o.failed,
                    "unknown": o.unknown,
                }
                for o in self.outages
            ],
            "conflicts": [
                {"key": c.key, "values": {k: list(v) for k, v in c.values.items()}, "final": c.final}
                for c in self.conflicts
            ],
            "phases": self.phases.to_dict(),
            "notes": list(self.notes),
        }


def check(ops: Iterable[Op], final: Mapping[str, str | None], phases: Phases, minority: str = "b") -> RehearsalVerdict:
    """`final`: each written key's value read back at the end (None: missing)."""
    history = sorted(ops, key=lambda o: (o.start, o.end))
    writes = [o for o in history if o.kind == "write"]
    acked = [o for o in writes if o.outcome == OK]
    last_ack: dict[tuple[str, str], Op] = {}
    for op in acked:
        previous = last_ack.get((op.client, op.key))
        if previous is None or op.end >= previous.end:
            last_ack[(op.client, op.key)] = op
    lost = []
    for op in last_ack.values():
        value = final.get(op.key)
        if value == op.value:
            continue
        # Another write that may have landed (acknowledged, or unknown: timed out) and may have taken effect
        # after this one explains the final value: this one was overwritten, not lost. That is any write not
        # finished before this one began: a later one, or one that overlapped it (two clients writing the
        # same key at once may be applied in either order).
        after = [o for o in writes if o is not op and o.key == op.key and o.outcome != FAIL and o.end >= op.start]
        if any(value == o.value for o in after):
            continue
        lost.append(op)
    lost.sort(key=lambda o: o.start)
    window = [o for o in acked if o.client == minority and phases.partition_start <= o.start <= phases.partition_end]
    window_s = max((o.end for o in window), default=phases.partition_start) - phases.partition_start
    window_lost = sum(1 for o in lost if o in window)
    outages = tuple(_outage(c, [o for o in history if o.client == c]) for c in sorted({o.client for o in history}))
    conflicts = _conflicts(acked, final, phases)
    notes = []
    if any(o.outcome not in (OK,) and o.kind == "write" for o in writes):
        notes.append("failed writes are never counted as lost; unknown ones (timeouts) may or may not have landed")
    return RehearsalVerdict(
        acknowledged=len(acked),
        lost=tuple(lost),
        window_writes=len(window),
        window_s=max(0.0, window_s),
        window_lost=window_lost,
        outages=outages,
        conflicts=conflicts,
        ops=len(history),
        unknown=sum(1 for o in history if o.outcome == "unknown"),
        phases=phases,
        notes=tuple(notes),
    )


def _outage(client: str, ops: list[Op]) -> Outage:
    longest = total = 0.0
    began: float | None = None
    for op in ops:
        if op.outcome == OK:
            if began is not None:
                span = op.start - began
                longest, total, began = max(longest, span), total + span, None
        elif began is None:
            began = op.start
    if began is not None and ops:
        span = ops[-1].end - began
        longest, total = max(longest, span), total + span
    return Outage(
        client,
        longest,
        total,
        sum(1 for o in ops if o.outcome == "fail"),
        sum(1 for o in ops if o.outcome == "unknown"),
    )


def _conflicts(acked: list[Op], final: Mapping[str, str | None], phases: Phases) -> tuple[Conflict, ...]:
    during = [o for o in acked if phases.partition_start <= o.start <= phases.partition_end]
    by_key: dict[str, dict[str, list[str]]] = {}
    for op in during:
        by_key.setdefault(op.key, {}).setdefault(op.client, []).append(str(op.value))
    return tuple(
        Conflict(key, {c: tuple(v) for c, v in sorted(values.items())}, final.get(key))
        for key, values in sorted(by_key.items())
        if len(values) > 1
    )
