from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for sample in ctx.viewers:
        entry = sample.myself
        replication = sample.info.get("replication", {})
        if entry is None or not entry.is_replica or replication.get("master_link_status", "up") == "up":
            continue
        since = replication.get("master_link_down_since_seconds", "?")
        primary = entry.primary_id
        state = ctx.sync(sample.node_id or "")
        evidence = (
            f"INFO replication: master_link_status:{replication.get('master_link_status')}, "
            f"master_host:{replication.get('master_host')}:{replication.get('master_port')}, "
            f"master_link_down_since_seconds:{since}, "
            f"master_sync_in_progress:{replication.get('master_sync_in_progress', '?')}",
            f"its primary {ctx.name(primary)}: "
            + ("does not answer" if primary in ctx.unreachable else "answers rcdoctor")
            if primary
            else "its primary is unknown",
        )
        if state is not None and state.syncing:
            # A normal (initial or full) sync: the link reads down until it completes. Not a fault.
            yield Issue(
                title=f"replica {sample.address} is syncing with its primary: {state.detail}",
                nodes=ctx.refs([i for i in (sample.node_id, primary) if i]),
                evidence=evidence,
                severity="info",
                fix="Nothing to do: the link comes up when the sync completes (large data sets take longer).",
            )
            continue
        # -1: the link never came up since this replica started
        down_for = "since it started" if since == "-1" else f"for {since} s"
        yield Issue(
            title=f"replica {sample.address} has lost its primary link (down {down_for})",
            nodes=ctx.refs([i for i in (sample.node_id, primary) if i]),
            evidence=evidence,
        )


CHECK = Check(
    code="R002",
    name="replica-link-down",
    family="replication",
    severity="warning",
    summary="A replica is not connected to its primary (master_link_status:down).",
    explanation=(
        "A replica streams its primary's writes over a replication link. When the link is down it serves "
        "(and would be promoted with) data that gets older every second; after node-timeout x "
        "cluster-replica-validity-factor it is no longer allowed to fail over. A replica in a sync (its "
        "primary lists it in state wait_bgsave or send_bulk, or it is receiving or loading the data set) "
        "also reads down: that is reported as info, not as a broken link. Redis 7 waits "
        "repl-diskless-sync-delay (5 s by default) before it starts a replica's first sync."
    ),
    evidence=(
        "master_link_status, master_link_down_since_seconds, master_sync_in_progress and loading in the "
        "replica's INFO; the primary's slaveN lines (state wait_bgsave, send_bulk, online)."
    ),
    why="The shard may have no usable failover candidate, and reads from the replica are stale.",
    fix=(
        "Check the primary is up and reachable from the replica on the data port, `masterauth` matches the "
        "primary's password, and the primary's log for sync errors (client-output-buffer-limit replica)."
    ),
    heal=(
        "Yes when its primary answers: CLUSTER REPLICATE to the same primary reconnects to its current "
        "address (6.2 replicas need it after the primary moved)."
    ),
    run=run,
)
