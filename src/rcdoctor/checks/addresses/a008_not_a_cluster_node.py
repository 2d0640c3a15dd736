from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.node_ref import NodeRef
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    # An endpoint that answered as Redis but has cluster support disabled: given as a seed (a typo, a
    # standalone server where a cluster node was meant), or a plain server now at an address peers list.
    for sample in ctx.snapshot.nodes:
        if sample.error is None or sample.error.kind != "not-cluster":
            continue
        how = (
            "it was given as a seed"
            if sample.origin == "seed"
            else f"{len(sample.announced_by)} node(s) list a cluster node at this address"
        )
        yield Issue(
            title=f"{sample.address} answers as Redis but is not a cluster node (cluster-enabled no)",
            nodes=(NodeRef(None, sample.address),),
            evidence=(f"{how}; it refused CLUSTER commands: {sample.error.message}",),
            subjects=frozenset(),
        )


CHECK = Check(
    code="A008",
    name="not-a-cluster-node",
    family="addresses",
    severity="warning",
    summary="An address rcdoctor was sent to answers as a standalone Redis, not as a cluster node.",
    explanation=(
        "A seed (or an address a peer lists) answers PING but refuses CLUSTER commands because the server runs "
        "with cluster-enabled no. Its data and state are not part of this diagnosis: the findings hold for the "
        "cluster nodes only. Usually a wrong seed (another service's Redis, a sentinel-managed or standalone "
        "server on the same host), sometimes a pod started without its cluster configuration."
    ),
    evidence="The collector's connection to the address: PING answers, CLUSTER INFO is refused.",
    why=(
        "Left unsaid, a healthy verdict reads as if that server was checked too; and a pod meant to be a "
        "cluster node that came up standalone serves no slots while its clients expect it to."
    ),
    fix=(
        "Check the address: drop it from the seeds if it is another server. If it should be a cluster node, "
        "start it with `cluster-enabled yes` (and its nodes.conf), then `CLUSTER MEET` it from a cluster node."
    ),
    heal="No: which server was meant is for a human to say.",
    run=run,
)
