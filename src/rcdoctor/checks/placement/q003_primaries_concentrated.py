from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    primaries = ctx.slot_primaries
    if len(primaries) < 2:
        return
    domains = {p: ctx.domain(p) for p in primaries}
    for domain, count in Counter(d for d in domains.values() if d is not None).most_common():
        if count * 2 < len(primaries):
            break
        held = [p for p, d in domains.items() if d == domain]
        yield Issue(
            title=f"failure domain {domain} holds {count} of {len(primaries)} primaries: losing it loses the majority",
            nodes=ctx.refs(held),
            evidence=(
                f"primaries in {domain}: {ctx.names(held)}",
                f"failover needs {ctx.quorum} of {len(primaries)} primaries; without {domain} only "
                f"{len(primaries) - count} remain: the rest cannot fail over",
            ),
        )


CHECK = Check(
    code="Q003",
    name="primaries-concentrated",
    family="placement",
    severity="critical",
    summary="One failure domain holds half or more of the slot-owning primaries.",
    explanation=(
        "Failover needs votes from a majority of primaries. If one host, Kubernetes node or zone holds half or "
        "more of them, losing it leaves too few voters: none of the lost primaries can be failed over and the "
        "cluster stays down. Domains come from `--domains FILE`, else each IP is its own domain."
    ),
    evidence="Failure domains of the slot-owning primaries.",
    why="One host failure becomes a full outage instead of a failover.",
    fix=(
        "Spread primaries across domains (pod anti-affinity), and move primaries with `CLUSTER FAILOVER` on "
        "a replica that lives in another domain."
    ),
    heal="Planned: heal can rebalance roles with CLUSTER FAILOVER on well-placed replicas.",
    run=run,
)
