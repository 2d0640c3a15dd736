from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.info import as_int
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.slot_primaries:
        replicas = ctx.replicas_of.get(node_id, ())
        if not replicas:
            continue  # R001's
        reasons = {r: _why_not(ctx, r) for r in replicas}
        if any(reason is None for reason in reasons.values()):
            continue
        down = ctx.is_down(node_id)
        yield Issue(
            title=f"no replica of {ctx.name(node_id)} can fail over" + (" and the primary is down" if down else ""),
            nodes=ctx.refs([node_id, *replicas]),
            evidence=tuple(f"{ctx.name(r)}: {reason}" for r, reason in reasons.items()),
            severity="critical" if down else "warning",
        )


def _why_not(ctx: ClusterView, replica: str) -> str | None:
    entry = ctx.entry(replica)
    if entry is not None and "nofailover" in entry.flags:
        return "flagged nofailover (cluster-replica-no-failover yes)"
    if ctx.config(replica, "cluster-replica-no-failover") == "yes":
        return "cluster-replica-no-failover yes"
    if ctx.is_down(replica):
        return "down"
    replication = ctx.info(replica, "replication")
    if replication.get("master_link_status") == "down":
        factor = ctx.config_int(replica, "cluster-replica-validity-factor")
        down_s = as_int(replication.get("master_link_down_since_seconds"))
        period = ctx.config_int(replica, "repl-ping-replica-period") or 10
        if factor and down_s is not None:
            limit_ms = ctx.node_timeout_ms * factor + period * 1000
            if down_s * 1000 > limit_ms:
                return f"its data is too old: link down {down_s} s > node-timeout x validity-factor ({limit_ms} ms)"
    return None


CHECK = Check(
    code="R005",
    name="shard-cannot-failover",
    family="replication",
    severity="warning",
    summary="A shard has replicas, but none of them is allowed or able to take over.",
    explanation=(
        "A replica does not start a failover election when `cluster-replica-no-failover yes` is set (flag "
        "nofailover), when it is down, or when its data is too old: its link to the primary has been down for "
        "longer than node-timeout x cluster-replica-validity-factor (+ repl-ping-replica-period)."
    ),
    evidence="nofailover flags, cluster-replica-no-failover, INFO replication link state and the validity settings.",
    why="The shard looks protected but is not: its primary's failure leaves its slots down.",
    fix=(
        "`CONFIG SET cluster-replica-no-failover no` on a replica (unless it is a deliberate DR copy), bring "
        "replicas back, or promote manually with `CLUSTER FAILOVER FORCE`/`TAKEOVER` when the primary is gone."
    ),
    heal=(
        "With --allow-failover-force: heal promotes a replica with FAILOVER FORCE after re-checking that the "
        "primary is still down."
    ),
    run=run,
    explains=("S002",),
)
