from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.info import as_int
from rcdoctor.model.view import ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    counts = {s.node_id: as_int(s.cluster_info.get("cluster_known_nodes")) for s in ctx.viewers if s.node_id}
    values = Counter(v for v in counts.values() if v is not None)
    if len(values) < 2:
        return
    usual = values.most_common(1)[0][0]
    odd = [i for i, v in counts.items() if v is not None and v != usual]
    yield Issue(
        title="cluster_known_nodes differs between nodes: "
        + ", ".join(f"{v} on {n} node(s)" for v, n in values.most_common()),
        nodes=ctx.refs(odd),
        evidence=tuple(f"{ctx.name(i)}: cluster_known_nodes:{counts[i]} (most nodes: {usual})" for i in odd),
    )


CHECK = Check(
    code="M005",
    name="known-nodes-differ",
    family="membership",
    severity="warning",
    summary="CLUSTER INFO cluster_known_nodes is not the same on every node.",
    explanation=(
        "cluster_known_nodes counts the entries of a node's table, handshakes included. Different counts mean "
        "different memberships: forgotten nodes, ghosts, a node that lost its nodes.conf, or nodes of another "
        "cluster. It is usually a symptom; rcdoctor folds it under the cause it finds."
    ),
    evidence="cluster_known_nodes in each answering node's CLUSTER INFO.",
    why="The first number a runbook compares; it tells that views differ, not why.",
    fix="See the membership findings above it (M003, M004, M006, M007).",
    heal="Through its cause only.",
    run=run,
)
