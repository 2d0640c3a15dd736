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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rcdoctor.divergence.keys import KeyDiff
from rcdoctor.divergence.report import key_text
from rcdoctor.transport.errors import ServerError


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
