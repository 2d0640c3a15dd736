"""Atomic slot migration, the servers' own (pure): which command a cluster has, what to send where, and
what a status reply says of one of our moves.

Valkey 9.0 and Redis 8.4 move slots themselves: the source sends a snapshot of the slots and then their
write stream, pauses writes to them for a moment and hands them over, so clients never see ASK and a
failed move leaves the slots where they were (no MIGRATING/IMPORTING states to close). The two servers
drive it from opposite ends (valkey.io/commands/cluster-migrateslots, redis.io/commands/cluster-migration):

  Valkey  on the source: CLUSTER MIGRATESLOTS SLOTSRANGE a b [a b ...] NODE target   -> OK
          poll the source: CLUSTER GETSLOTMIGRATIONS (every recent job, no id: ours is the new entry)
          cancel on the source: CLUSTER CANCELSLOTMIGRATIONS (every job this node started)
  Redis   on the target: CLUSTER MIGRATION IMPORT a b [a b ...]                      -> task id
          poll the target: CLUSTER MIGRATION STATUS ID id
          cancel on the target: CLUSTER MIGRATION CANCEL ID id (the target retries a failed import until
          it is cancelled there; a cancel on the source does not stop it)

UNTESTED AGAINST A REAL SERVER: no Valkey 9 or Redis 8.4 can be installed where this was written. The
replies used by the tests are written from the servers' documentation and source (see
model/slot_migrations.py for the fields). rebalance therefore uses it only when every primary answers
COMMAND INFO for the command (a renamed or disabled command, or an older server, keeps the key-by-key
engine), and `--method keys` always forces the old way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rcdoctor.model.server import ServerIdentity
from rcdoctor.model.slot_migrations import SlotMigration, parse_redis, parse_valkey
from rcdoctor.model.slots import SlotRange, to_ranges

Dialect = Literal["valkey", "redis"]
Side = Literal["source", "target"]
Command = tuple[str, ...]

# COMMAND INFO names the subcommand as container|sub (Redis 7+, Valkey): an unknown one answers nil.
_COMMAND_INFO: dict[Dialect, Command] = {
    "valkey": ("COMMAND", "INFO", "cluster|migrateslots"),
    "redis": ("COMMAND", "INFO", "cluster|migration"),
}


def dialect_of(identity: ServerIdentity | None) -> Dialect | None:
    """The atomic-migration dialect this server's version has, if any (the probe confirms it)."""
    if identity is None or not identity.at_least(redis=(8, 4), valkey=(9, 0)):
        return None
    return "valkey" if identity.name == "valkey" else "redis"


def command_info_query(dialect: Dialect) -> Command:
    return _COMMAND_INFO[dialect]


def lists_command(reply: Any) -> bool:
    """COMMAND INFO's reply: one entry per name asked, nil (None) for a command the server does not have."""
    return isinstance(reply, list | tuple) and len(reply) == 1 and isinstance(reply[0], list | tuple) and bool(reply[0])


def common_dialect(primaries: Mapping[str, ServerIdentity | None]) -> Dialect | None:
    """One dialect for the whole move, or None: every primary must speak the same one (a cluster half
    upgraded moves key by key until the upgrade is done)."""
    dialects = {dialect_of(identity) for identity in primaries.values()}
    if len(dialects) != 1:
        return None
    return next(iter(dialects))


def _range_args(slots: Iterable[int]) -> list[str]:
    args: list[str] = []
    for r in to_ranges(sorted(set(slots))):
        args += [str(r.start), str(r.end)]
    return args


def start(dialect: Dialect, target_id: str, slots: Sequence[int]) -> tuple[Side, Command]:
    """Where to send the command that starts the move, and the command."""
    if dialect == "valkey":
        return "source", ("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", *_range_args(slots), "NODE", target_id)
    return "target", ("CLUSTER", "MIGRATION", "IMPORT", *_range_args(slots))


def status(dialect: Dialect, task_id: str | None) -> tuple[Side, Command]:
    if dialect == "valkey":
        return "source", ("CLUSTER", "GETSLOTMIGRATIONS")
    return "target", ("CLUSTER", "MIGRATION", "STATUS", "ID", task_id or "")


def cancel(dialect: Dialect, task_id: str | None) -> tuple[Side, Command]:
    if dialect == "valkey":
        return "source", ("CLUSTER", "CANCELSLOTMIGRATIONS")
    return "target", ("CLUSTER", "MIGRATION", "CANCEL", "ID", task_id or "")


def started_id(dialect: Dialect, reply: Any) -> str | None:
    """Redis answers IMPORT with the task id; Valkey answers OK (its job is found by `new_jobs`)."""
    if dialect == "valkey":
        return None
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return text.strip() or None


def jobs(dialect: Dialect, reply: Any) -> tuple[SlotMigration, ...]:
    return (parse_valkey(reply) if dialect == "valkey" else parse_redis(reply)).value


def job_names(dialect: Dialect, reply: Any) -> frozenset[str]:
    return frozenset(j.name for j in jobs(dialect, reply))


@dataclass(frozen=True)
class Progress:
    """What a status reply says of one move."""

    state: Literal["running", "done", "failed", "missing"]
    detail: str  # the server's own state and message, for the report
    retries: int | None = None


_VALKEY_DONE = "success"
_VALKEY_FAILED = frozenset({"failed", "cancelled", "canceled"})
_REDIS_DONE = "completed"
_REDIS_CANCELLED = frozenset({"canceled", "cancelled"})


def judge(
    dialect: Dialect,
    reply: Any,
    target_id: str,
    slots: Sequence[int],
    task_id: str | None,
    known_before: frozenset[str] = frozenset(),
) -> Progress:
    """Our move's progress in a status reply. Valkey's jobs carry no id we were given: ours is the export
    to this target, of exactly these ranges, that was not in the reply read before we started it."""
    wanted: tuple[SlotRange, ...] = tuple(to_ranges(sorted(set(slots))))
    found = [
        j
        for j in jobs(dialect, reply)
        if (j.name == task_id if dialect == "redis" else j.name not in known_before)
        and (dialect == "redis" or (j.operation == "export" and j.target == target_id and j.slots == wanted))
    ]
    if not found:
        return Progress("missing", "the server lists no such job")
    job = found[-1]
    detail = job.state + (f": {job.message}" if job.message else "")
    if dialect == "valkey":
        if job.state == _VALKEY_DONE:
            return Progress("done", detail)
        if job.state in _VALKEY_FAILED:
            return Progress("failed", detail)
        return Progress("running", detail)
    if job.state == _REDIS_DONE:
        return Progress("done", detail, job.retries)
    if job.state in _REDIS_CANCELLED:
        return Progress("failed", detail, job.retries)
    # A failed Redis import is retried by the target by itself: running, but the caller bounds the retries.
    return Progress("running", detail, job.retries)
