"""Waiting for what a REPLICATE started: the replica's link to its primary.

`CLUSTER REPLICATE` answers OK at once; the sync follows. Redis 7 waits `repl-diskless-sync-delay` (5 s
by default) before it streams the first RDB, and a large data set takes as long as it takes. Re-planning
before the replica even started its sync would plan the same REPLICATE again, and each one restarts the
handshake. So after a phase that re-points replicas, heal waits (with a bound, saying what it waits for)
until each one's link is up, or at least until its sync is visibly under way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rcdoctor.collect.replication import link_state
from rcdoctor.model.replication import UP
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.steps import Phase
from rcdoctor.transport.options import ConnectOptions

STARTED_WITHIN_S = 15.0  # a sync that has not even begun by then is reported, not waited for
UP_WITHIN_S = 60.0  # a sync under way is waited for up to this long, then left to finish by itself


def replicated(phase: Phase) -> list[tuple[str, str]]:
    """(replica address, primary id) of every REPLICATE step of the phase."""
    return [(s.node, s.command[2]) for s in phase.steps if s.command[:2] == ("CLUSTER", "REPLICATE")]


def not_up(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(replica address, primary id) of every answering replica whose link is not up while its primary
    answers: a sync under way, or one about to start (a replica that just learned of a new primary
    shows a plain "connecting" for a moment). A replica of a primary that is down is not waited for."""
    ctx = ClusterView(snapshot)
    found = []
    for node_id, sample in ctx.own.items():
        state = ctx.sync(node_id)
        mine = sample.myself
        if state is None or state.stage == UP or mine is None or not mine.primary_id:
            continue
        if mine.primary_id in ctx.own:
            found.append((sample.address, mine.primary_id))
    return sorted(found)


def await_links(
    targets: list[tuple[str, str]], primaries: dict[str, str], options: ConnectOptions, log: Callable[[str], None]
) -> list[str]:
    """Wait until each replica's link is up (or its sync is under way when UP_WITHIN_S runs out).
    `primaries`: primary id -> address. Returns one line per replica that was not up in the end."""
    left: list[str] = []
    started = time.monotonic()
    for replica, primary_id in targets:
        last = ""
        while True:
            state = link_state(replica, primaries.get(primary_id), options)
            if state is not None and state.stage == UP:
                if last:
                    log(f"  ok      {replica}: replica link up after {time.monotonic() - started:.1f}s")
                break
            detail = state.detail if state is not None else "does not answer"
            if detail != last:
                log(f"  waiting {replica}: {detail}")
                last = detail
            waited = time.monotonic() - started
            under_way = state is not None and state.syncing
            if waited > UP_WITHIN_S or (waited > STARTED_WITHIN_S and not under_way):
                left.append(f"{replica}: replica link not up after {waited:.0f}s ({detail})")
                break
            time.sleep(0.2)
    return left
