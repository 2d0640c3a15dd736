from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.context import Context
from rcdoctor.model.info import as_int


def replicas_in_info(replication: dict[str, str] | object) -> list[dict[str, str]]:
    """The `slaveN:ip=..,port=..,state=..,offset=..,lag=..` lines of a primary's INFO replication."""
    if not isinstance(replication, dict):
        return []
    found = []
    for key, value in replication.items():
        if key.startswith("slave") and key[5:].isdigit() and isinstance(value, str):
            found.append(dict(part.split("=", 1) for part in value.split(",") if "=" in part))
    return found


def run(ctx: Context) -> Iterator[Issue]:
    settings = ctx.settings
    for sample in ctx.viewers:
        replication = sample.info.get("replication", {})
        if replication.get("role") != "master":
            continue
        offset = as_int(replication.get("master_repl_offset"))
        for replica in replicas_in_info(replication):
            lag = as_int(replica.get("lag"))
            behind = offset - (as_int(replica.get("offset")) or 0) if offset is not None else None
            slow = lag is not None and lag >= settings.replica_lag_seconds
            far = behind is not None and behind >= settings.replica_lag_bytes
            if not (slow or far):
                continue
            address = f"{replica.get('ip')}:{replica.get('port')}"
            replica_id = next((i for i, a in ctx.answers_at.items() if address in a), None)
            replica_id = replica_id or next(
                (i for i in ctx.ids if (e := ctx.entry(i)) is not None and e.address == address), None
            )
            yield Issue(
                title=f"replica {address} of {sample.address} is behind: {lag} s since its last ACK, {behind} bytes",
                nodes=ctx.refs([i for i in (replica_id, sample.node_id) if i]),
                evidence=(
                    f"{sample.address} INFO replication: state={replica.get('state')} offset={replica.get('offset')} "
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
