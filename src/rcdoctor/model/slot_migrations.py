"""Server-side atomic slot migrations: Valkey 9.0 `CLUSTER GETSLOTMIGRATIONS` and Redis 8.4
`CLUSTER MIGRATION STATUS ALL` (pure parsers, and which command a server has).

Both servers move the slots themselves (a snapshot of the slots, then a replication stream, then a short
write pause and the hand-off) without MIGRATING/IMPORTING markers in CLUSTER NODES, so a move in
progress is visible only through these replies. Both reply with one map per job (a flat key/value array
in RESP2) on the primaries of both shards; only the field names differ:

- Valkey (src/cluster_migrateslots.c `clusterCommandGetSlotMigrations`, valkey-io/valkey-doc
  commands/cluster-getslotmigrations.md): name, operation IMPORT|EXPORT, slot_ranges "0-10 20-30",
  target_node, source_node (absent on a target's replica, which only tracks the job), create_time,
  last_update_time, last_ack_time (unix seconds), state, message, cow_size. Terminal states: success,
  failed, cancelled; any other is a job in progress.
- Redis (src/cluster_asm.c `replyTaskStatus`, redis/docs content/commands/cluster-migration.md): id,
  slots "0-100 200-300", source, dest, operation import|migrate, state, last_error, retries, create_time,
  start_time, end_time (milliseconds), write_pause_ms. Finished tasks are completed or canceled; a
  failed import is retried by the destination until it is cancelled (`asmCatInfoString` counts it as
  active), a failed migrate side is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rcdoctor.model.parsed import Parsed
from rcdoctor.model.server import server_identity
from rcdoctor.model.slots import SLOT_COUNT, SlotRange

# Reply keys in a snapshot, one per command (the command itself, as the collector's other keys are).
VALKEY_GETSLOTMIGRATIONS = "CLUSTER GETSLOTMIGRATIONS"
REDIS_MIGRATION_STATUS = "CLUSTER MIGRATION STATUS ALL"

Command = tuple[str, tuple[str, ...]]

_VALKEY_DONE = frozenset({"success", "failed", "cancelled"})
_REDIS_DONE = frozenset({"completed", "canceled", "cancelled"})


@dataclass(frozen=True)
class SlotMigration:
    """One job as one node reports it."""

    server: str  # "valkey" | "redis"
    name: str  # Valkey's job name / Redis's task id: the same on both sides of the move
    operation: str  # "import" (this node receives the slots) | "export" (this node gives them away)
    slots: tuple[SlotRange, ...]
    source: str | None  # node ids; None where the server does not say (a Valkey replica's tracking entry)
    target: str | None
    state: str
    message: str  # Valkey's message / Redis's last_error ("" when none)
    retries: int | None  # Redis only
    created: float | None  # unix seconds
    updated: float | None  # Valkey's last_update_time / Redis's start_time

    @property
    def active(self) -> bool:
        if self.server == "valkey":
            return self.state not in _VALKEY_DONE
        if self.state == "failed":
            return self.operation == "import"  # the destination retries until cancelled
        return self.state not in _REDIS_DONE

    @property
    def slot_count(self) -> int:
        return sum(len(r) for r in self.slots)


@dataclass(frozen=True)
class JobReport:
    """One node's view of a job: who said what."""

    node_id: str
    operation: str
    state: str
    active: bool


@dataclass(frozen=True)
class AtomicMove:
    """One job folded over the nodes that report it (both primaries, a Valkey target's replicas)."""

    server: str
    name: str
    slots: tuple[SlotRange, ...]
    source: str | None
    target: str | None
    reports: tuple[JobReport, ...]
    message: str  # the first non-empty message / last_error of any side
    retries: int | None  # the largest any side reports
    created: float | None

    @property
    def active(self) -> bool:
        return any(r.active for r in self.reports)

    @property
    def slot_count(self) -> int:
        return sum(len(r) for r in self.slots)


def fold(seen: Iterable[tuple[str, SlotMigration]]) -> tuple[AtomicMove, ...]:
    """(reporting node id, job) pairs -> one move per job name. A side that names no nodes (a Valkey
    replica's tracking entry) adds its state only: the source is the node reporting the export, the
    target the one reporting the import, when the servers' own fields are missing."""
    groups: dict[tuple[str, str], list[tuple[str, SlotMigration]]] = {}
    for node_id, job in seen:
        groups.setdefault((job.server, job.name or f"{node_id}:{job.slots}"), []).append((node_id, job))
    moves = []
    for (server, name), items in groups.items():
        jobs = [j for _, j in items]
        named = [(n, j) for n, j in items if j.source or j.target]
        source = next((j.source for j in jobs if j.source), None) or next(
            (n for n, j in named if j.operation == "export"), None
        )
        target = next((j.target for j in jobs if j.target), None) or next(
            (n for n, j in named if j.operation == "import"), None
        )
        retries = [j.retries for j in jobs if j.retries is not None]
        created = [j.created for j in jobs if j.created is not None]
        moves.append(
            AtomicMove(
                server=server,
                name=name,
                slots=jobs[0].slots,
                source=source,
                target=target,
                reports=tuple(JobReport(n, j.operation, j.state, j.active) for n, j in items),
                message=next((j.message for j in jobs if j.message), ""),
                retries=max(retries) if retries else None,
                created=min(created) if created else None,
            )
        )
    return tuple(sorted(moves, key=lambda m: (m.slots, m.name)))


def commands_for(server: Mapping[str, str]) -> tuple[Command, ...]:
    """The atomic-migration command this server has, from its INFO server section: none before Valkey
    9.0 / Redis 8.4 (asking would only add an "unknown subcommand" error to every snapshot)."""
    identity = server_identity(server)
    if identity is None or not identity.at_least(redis=(8, 4), valkey=(9, 0)):
        return ()
    if identity.name == "valkey":
        return ((VALKEY_GETSLOTMIGRATIONS, ("CLUSTER", "GETSLOTMIGRATIONS")),)
    return ((REDIS_MIGRATION_STATUS, ("CLUSTER", "MIGRATION", "STATUS", "ALL")),)


def parse_valkey(reply: Any) -> Parsed[tuple[SlotMigration, ...]]:
    """`CLUSTER GETSLOTMIGRATIONS` reply (RESP2 flat arrays or RESP3 maps) -> jobs; unreadable ones skipped."""
    found: list[SlotMigration] = []
    errors: list[str] = []
    for index, fields in _entries(reply, errors):
        operation = _text(fields.get("operation")).lower()
        slots = _ranges(_text(fields.get("slot_ranges")))
        if operation not in ("import", "export") or slots is None:
            errors.append(f"job {index}: no operation or slot_ranges")
            continue
        found.append(
            SlotMigration(
                server="valkey",
                name=_text(fields.get("name")),
                operation=operation,
                slots=slots,
                source=_text(fields.get("source_node")) or None,
                target=_text(fields.get("target_node")) or None,
                state=_text(fields.get("state")).lower(),
                message=_text(fields.get("message")),
                retries=None,
                created=_number(fields.get("create_time")),
                updated=_number(fields.get("last_update_time")),
            )
        )
    return Parsed(tuple(found), tuple(errors))


def parse_redis(reply: Any) -> Parsed[tuple[SlotMigration, ...]]:
    """`CLUSTER MIGRATION STATUS ALL` reply -> tasks, in Valkey's words (migrate -> export, ms -> s)."""
    found: list[SlotMigration] = []
    errors: list[str] = []
    for index, fields in _entries(reply, errors):
        operation = {"import": "import", "migrate": "export"}.get(_text(fields.get("operation")).lower())
        slots = _ranges(_text(fields.get("slots")))
        if operation is None or slots is None:
            errors.append(f"task {index}: no operation or slots")
            continue
        retries = _number(fields.get("retries"))
        found.append(
            SlotMigration(
                server="redis",
                name=_text(fields.get("id")),
                operation=operation,
                slots=slots,
                source=_text(fields.get("source")) or None,
                target=_text(fields.get("dest")) or None,
                state=_text(fields.get("state")).lower(),
                message=_text(fields.get("last_error")),
                retries=int(retries) if retries is not None else None,
                created=_seconds(fields.get("create_time")),
                updated=_seconds(fields.get("start_time")),
            )
        )
    return Parsed(tuple(found), tuple(errors))


def _entries(reply: Any, errors: list[str]) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(reply, list | tuple):
        if reply is not None:
            errors.append(f"not an array: {type(reply).__name__}")
        return []
    entries = []
    for index, item in enumerate(reply):
        fields = _fields(item)
        if fields is None:
            errors.append(f"entry {index}: not a map")
            continue
        entries.append((index, fields))
    return entries


def _fields(item: Any) -> dict[str, Any] | None:
    if isinstance(item, Mapping):
        return {_text(k): v for k, v in item.items()}
    if isinstance(item, list | tuple) and len(item) % 2 == 0:
        pairs: Sequence[Any] = item
        return {_text(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)}
    return None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    try:
        return float(_text(value)) if value is not None and not isinstance(value, bool) else None
    except ValueError:
        return None


def _seconds(value: Any) -> float | None:
    ms = _number(value)
    return ms / 1000 if ms is not None and ms > 0 else None


def _ranges(text: str) -> tuple[SlotRange, ...] | None:
    """`"0-10 20-30"` (both servers write every range as start-end, a single slot as `5-5`)."""
    ranges = []
    for part in text.split():
        start, sep, end = part.partition("-")
        if not start.isdigit() or (sep and not end.isdigit()):
            return None
        first, last = int(start), int(end) if sep else int(start)
        if not 0 <= first <= last < SLOT_COUNT:
            return None
        ranges.append(SlotRange(first, last))
    return tuple(sorted(ranges)) or None
