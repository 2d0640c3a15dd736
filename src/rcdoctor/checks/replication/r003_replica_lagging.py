from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.info import as_int
from rcdoctor.model.replication import listed_replicas
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    settings = ctx.settings
    for sample in ctx.viewers:
        replication = sample.info.get("replication", {})
        if replication.get("role") != "master":
            continue
        offset = as_int(replication.get("master_repl_offset"))
        for replica in listed_replicas(replication):
            if replica.state != "online":
                continue  # in its sync (wait_bgsave, send_bulk): R002 says so; its offset means nothing yet
            lag = replica.lag
            behind = offset - (replica.offset or 0) if offset is not None else None
            slow = lag is not None and lag >= settings.replica_lag_seconds
            far = behind is not None and behind >= settings.replica_lag_bytes
            if not (slow or far):
                continue
            address = replica.address
            replica_id = next((i for i, a in ctx.answers_at.items() if address in a), None)
            replica_id = replica_id or next(
                (i for i in ctx.ids if (e := ctx.entry(i)) is not None and e.address == address), None
            )
            yield Issue(
                title=f"replica {address} of {sample.address} is behind: {lag} s since its last ACK, {behind} bytes",
                nodes=ctx.refs([i for i in (replica_id, sample.node_id) if i]),
                evidence=(
                    f"{sample.address} INFO replication: state={replica.state} offset={replica.offset} "
                    f"lag={lag} (master_repl_offset {offset})",
                    f"thresholds: {settings.replica_lag_seconds} s without ACK or {settings.replica_lag_bytes} bytes",
                ),
            )


CHECK = Check(
    code="R003",
    name="replica-lagging",
    family="replication",
    severity="warning",
    summary="A replica has not acknowledged its primary's stream for seconds, or is far behind in bytes.",
    explanation=(
        "Replicas ACK their offset every second. The primary reports each replica's last offset and the seconds "
        "since its last ACK (`lag`). A replica several seconds or a megabyte behind is paused, overloaded, or "
        "on a slow network; if it is promoted now, the writes it has not received are lost."
    ),
    evidence="slaveN lines (offset, lag) and master_repl_offset in each primary's INFO replication.",
    why="Failover to a lagging replica loses the writes it has not received; reads from it are stale.",
    fix=(
        "Look at the replica (CPU, `INFO stats`, persistence forks, network). Consider `min-replicas-to-write "
        "1` with `min-replicas-max-lag 10` so the primary stops accepting writes no replica has."
    ),
    heal="No.",
    run=run,
)
