from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import noaddr_outlook, slots_text
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    for node_id in ctx.slot_primaries:
        owned = ctx.owned_slots(node_id)
        if not owned or not ctx.is_down(node_id):
            continue
        replicas = ctx.replicas_of.get(node_id, ())
        able = [r for r in replicas if not ctx.is_down(r) and "nofailover" not in _flags(ctx, r)]
        noaddr = any("noaddr" in e.flags for _, e in ctx.listings.get(node_id, ()))
        if noaddr:
            outlook = f"its peers list it as noaddr: {noaddr_outlook(ctx.noaddr_failover)}"
            if able:
                unless = "if it does not, " if ctx.noaddr_failover else ""
                outlook += f"; {unless}promote {ctx.names(able)} with `CLUSTER FAILOVER FORCE`"
        elif not replicas:
            outlook = "it has no replica: the slots stay down until it comes back"
        elif not able:
            outlook = f"none of its {len(replicas)} replica(s) can take over (down or nofailover)"
        else:
            outlook = (
                f"replica(s) {ctx.names(able)} should take over within about node-timeout x 2 "
                f"({ctx.node_timeout_ms * 2} ms); if not: `CLUSTER FAILOVER FORCE` on one of them"
            )
        yield Issue(
            title=f"{slots_text(owned, 3)} are owned by {ctx.name(node_id)}, which is down",
            nodes=ctx.refs([node_id, *replicas]),
            evidence=(
                f"{ctx.name(node_id)}: "
                + ("does not answer" if node_id in ctx.unreachable else "flagged fail/fail? by its peers"),
                outlook,
            ),
        )


def _flags(ctx: ClusterView, node_id: str) -> frozenset[str]:
    entry = ctx.entry(node_id)
    return entry.flags if entry is not None else frozenset()


CHECK = Check(
    code="S002",
    name="slots-on-failed-primary",
    family="slots",
    severity="critical",
    summary="Slots are owned by a primary that is down, and whether a replica can take them over.",
    explanation=(
        "Slots of a failed primary are served again only when one of its replicas wins a failover election "
        "(about node-timeout x 2 after the failure, given a majority of primaries and a replica with recent "
        "enough data) or when the primary comes back. rcdoctor says which of these can happen."
    ),
    evidence="The slot map most nodes agree on, the failure flags of the owner, and its replicas' state.",
    why="Until then every command on keys of these slots fails (or the whole cluster, with full coverage).",
    fix=(
        "Restart the primary with its data, or promote a healthy replica: `CLUSTER FAILOVER FORCE` on it "
        "(`TAKEOVER` if no majority of primaries is reachable; it bypasses the election: use only when the old "
        "primary is certainly down, or writes will diverge)."
    ),
    heal=(
        "With --allow-failover-force (or --allow-takeover without a majority): heal promotes the replica with "
        "the highest offset."
    ),
    run=run,
    explains=("M008",),
)
