from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.model.view import HANDSHAKE, ClusterView


def run(ctx: ClusterView) -> Iterator[Issue]:
    viewers = {s.node_id: s for s in ctx.viewers if s.node_id}
    # The viewers of a group of agreeing views know the same nodes (see view_index): one set per group.
    per_group = {id(g): {e.id for e in g.entries if not e.flags & HANDSHAKE} for g in ctx.index.groups}
    knows = {vid: per_group[id(ctx.index.group_of(s))] for vid, s in viewers.items()}
    sets = list(per_group.values())
    # Keyed by a tuple in the viewers' order, not a frozenset: the report must not depend on string hashing.
    missing_by: dict[tuple[str, ...], list[str]] = {}
    for node_id in ctx.ids:
        if all(node_id in known for known in sets):
            continue  # every view lists it: nobody misses it (the walk below is N steps per node)
        knowers = [v for v in viewers if v != node_id and node_id in knows[v]]
        if not knowers:
            continue
        missing = tuple(v for v in viewers if v != node_id and node_id not in knows[v])
        if missing:
            missing_by.setdefault(missing, []).append(node_id)
    for missing, unknown in missing_by.items():
        yield Issue(
            title=f"{len(unknown)} node(s) are known to some nodes but not to {ctx.names(missing, limit=4)}",
            nodes=ctx.refs([*unknown, *missing]),
            evidence=(
                f"not in the CLUSTER NODES of {ctx.names(missing)}: {ctx.names(unknown)}",
                "the other answering nodes list them",
            ),
        )


CHECK = Check(
    code="M004",
    name="membership-differs",
    family="membership",
    severity="warning",
    summary="Some nodes know a node that others do not know at all.",
    explanation=(
        "In a settled cluster every node knows every other one. A node missing from some views was forgotten "
        "there (CLUSTER FORGET, which lasts 60 s unless repeated everywhere), was just added and has not "
        "spread yet, or the nodes that miss it lost their nodes.conf or belong to another cluster."
    ),
    evidence="The set of node ids in each answering node's CLUSTER NODES.",
    why="Nodes that do not know each other do not count each other's failure reports or votes.",
    fix=(
        "To remove a node: `CLUSTER FORGET <id>` on every node within 60 s. To (re)introduce one: "
        "`CLUSTER MEET <ip> <port>` from any node that lacks it."
    ),
    heal=(
        "Yes (meet phase): the node that forgot a member MEETs it again; a handshake that never completed is "
        "left to expire."
    ),
    run=run,
    explains=("M005", "M009"),
)
