"""A rehearsal's history (Jepsen style): every client operation with its outcome and timestamps (pure).

An operation is `ok` (acknowledged), `fail` (definitely not applied: an error reply such as CLUSTERDOWN,
MOVED to a node the client cannot reach, READONLY) or `unknown` (timed out or the connection broke after
the request was sent: it may or may not have been applied). Times are seconds since the rehearsal began.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


@dataclass(frozen=True)
class Op:
    client: str  # "a" (majority side) or "b" (minority side), or any name
    kind: str  # "write" or "read"
    key: str
    value: str | None  # written value, or the value read
    start: float
    end: float
    outcome: str  # ok | fail | unknown
    node: str = ""  # address the request went to
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Op:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Phases:
    partition_start: float
    partition_end: float
    failover_seen: float | None = None  # when the majority side first had a new primary for the cut-off slots
    minority_refused: float | None = None  # when the cut-off primary first refused a write

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
