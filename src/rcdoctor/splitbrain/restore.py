"""`split-brain restore`: put chosen keys of a divergence file back into the cluster (through whichever
node owns each slot now).

Default choice: the minority-only keys (side a holds them, side b did not): acknowledged writes the
cut-off primary took that Redis dropped when it rejoined. They are RESTOREd without REPLACE, so a key
written since (on any side) is never overwritten: it is reported as a conflict. Keys both sides hold
with different values are conflicts for a human: restored only when named with --only and allowed with
--overwrite-conflicts (RESTORE … REPLACE: the current value is lost). TTLs are shortened by the time
elapsed since the file was written; keys whose TTL ran out meanwhile are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcdoctor.divergence.report import key_text, read
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING, UsageError
from rcdoctor.model.address import Endpoint
from rcdoctor.model.key_diff import KeyDiff
from rcdoctor.transport.errors import ServerError
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import cluster_client


@dataclass
class Choice:
    restore: list[KeyDiff] = field(default_factory=list)  # minority-only keys, or named ones
    conflicts: list[KeyDiff] = field(default_factory=list)  # both sides differ: a human decides
    skipped: list[tuple[KeyDiff, str]] = field(default_factory=list)


def choose(diffs: Iterable[KeyDiff], keys: set[bytes] | None, overwrite_conflicts: bool) -> Choice:
    choice = Choice()
    for diff in diffs:
        named = keys is not None and diff.key in keys
        if keys is not None and not named:
            continue
        if diff.a is None:
            choice.skipped.append((diff, "only the majority has it: nothing to restore"))
        elif diff.b is None or (named and overwrite_conflicts):
            choice.restore.append(diff)
        else:
            choice.conflicts.append(diff)
    return choice


@dataclass
class Applied:
    restored: list[bytes] = field(default_factory=list)
    busy: list[bytes] = field(default_factory=list)  # written meanwhile: left alone (a conflict now)
    expired: list[bytes] = field(default_factory=list)
    failed: list[tuple[bytes, str]] = field(default_factory=list)


def apply(cluster: Any, chosen: Iterable[KeyDiff], created: float, replace: set[bytes]) -> Applied:
    """RESTORE each chosen key (side a's copy) through `cluster` (a redis-py RedisCluster)."""

    elapsed_ms = int((time.time() - created) * 1000)
    outcome = Applied()
    for diff in chosen:
        assert diff.a is not None
        ttl = 0
        if diff.a.pttl >= 0:
            ttl = diff.a.pttl - elapsed_ms
            if ttl <= 0:
                outcome.expired.append(diff.key)
                continue
        args: list[Any] = ["RESTORE", diff.key, ttl, diff.a.payload]
        if diff.key in replace:
            args.append("REPLACE")
        try:
            cluster.execute_command(*args)
            outcome.restored.append(diff.key)
        except ServerError as exc:
            if str(exc).startswith("BUSYKEY"):
                outcome.busy.append(diff.key)
            else:
                outcome.failed.append((diff.key, str(exc)))
    return outcome


def names(keys: Iterable[bytes], limit: int = 10) -> str:
    items = [key_text(k) for k in keys]
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass
class Restore:
    """`split-brain restore` as an operation: the choice read from a divergence file, and once applied what
    happened to each key. `to_dict()` is the command's JSON document, `exit_code` its exit code."""

    file: str
    created: float  # when the diff was taken: a key's TTL counts from then
    choice: Choice
    replace: set[bytes]  # keys named with --only: with overwrite, their conflicts are restored with REPLACE
    done: Applied | None = None

    def to_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "format": "rcdoctor.split-brain-restore",
            "version": 1,
            "file": self.file,
            "to_restore": len(self.choice.restore),
            "conflicts": [key_text(d.key) for d in self.choice.conflicts],
            "skipped": [{"key": key_text(d.key), "why": why} for d, why in self.choice.skipped],
            "applied": self.done is not None,
        }
        if self.done is not None:
            summary |= {
                "restored": len(self.done.restored),
                "busy": [key_text(k) for k in self.done.busy],
                "expired": [key_text(k) for k in self.done.expired],
                "failed": [{"key": key_text(k), "error": e} for k, e in self.done.failed],
            }
        return summary

    @property
    def exit_code(self) -> int:
        """0 done or nothing to do, 1 conflicts left for a decision (or keys written meanwhile), 2 failures."""
        if self.done is not None and self.done.failed:
            return EXIT_CRITICAL
        busy = self.done is not None and bool(self.done.busy)
        return EXIT_WARNING if self.choice.conflicts or busy else EXIT_OK


def prepare(path: Path, keys: Sequence[str] = (), overwrite_conflicts: bool = False) -> Restore:
    """Read the file and choose (nothing changes): by default its minority-only keys; with `keys`, only
    those, and with `overwrite_conflicts` their conflicting values too."""
    if overwrite_conflicts and not keys:
        raise UsageError("--overwrite-conflicts needs the keys named with --only: it is a decision per key")
    header, diffs = read(path)
    wanted = {k.encode() for k in keys} if keys else None
    choice = choose(diffs, wanted, overwrite_conflicts)
    return Restore(str(path), float(header.get("created", 0)), choice, wanted or set())


def run(restore: Restore, endpoints: Sequence[Endpoint], options: ConnectOptions) -> Restore:
    """Restore the chosen keys through a cluster client started on `endpoints`."""
    cluster = cluster_client(endpoints, options)
    try:
        restore.done = apply(cluster, restore.choice.restore, restore.created, replace=restore.replace)
    finally:
        cluster.close()
    return restore
