from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.slots import count_slots
from rcdoctor.model.view import ClusterView, joined


def groups(ctx: ClusterView) -> list[set[str]]:
    """Answering nodes split by who knows whom (either direction)."""
    ids = [s.node_id for s in ctx.viewers if s.node_id]
    # Each viewer is linked to every node its view lists; the viewers of a group of agreeing views list
    # the same nodes, so the group and all it lists are one set (see view_index).
    return joined(
        ids, ({s.node_id for s in g.viewers if s.node_id} | {e.id for e in g.entries} for g in ctx.index.groups)
    )


def run(ctx: ClusterView) -> Iterator[Issue]:
    # Lone nodes that know only themselves are M006's; two or more groups of several nodes are clusters.
    clusters = [g for g in groups(ctx) if len(g) > 1]
    if len(clusters) < 2:
        return
    evidence = []
    for index, group in enumerate(clusters, 1):
        owned = count_slots(r for i in group if (e := ctx.entry(i)) is not None and e.is_primary for r in e.slots)
        evidence.append(
            f"cluster {index}: {plural(len(group), 'node')} ({ctx.names(sorted(group), 4)}), {owned} slots claimed"
        )
    yield Issue(
        title=f"the nodes reached belong to {len(clusters)} separate clusters that do not know each other",
        nodes=ctx.refs(i for g in clusters for i in sorted(g)),
        evidence=tuple(evidence),
    )


CHECK = Check(
    code="M007",
    name="separate-clusters",
    family="membership",
    severity="critical",
    summary="The nodes reached form several clusters that do not know each other.",
    explanation=(
        "rcdoctor follows every node any seed knows. If the answering nodes fall into groups with no node of "
        "one group in any view of another, they are separate clusters: seeds from two clusters or a node that "
        "was reset and formed its own cluster. Each group is analysed together, so other findings may mix "
        "them. Once a single MEET links them they are no longer separate: the merge under way is M010 "
        "(unrelated primaries claiming the same slots), and within seconds one side's keys are deleted."
    ),
    evidence="Which node ids each answering node's CLUSTER NODES contains (components of the 'knows' graph).",
    why=(
        "Meeting two clusters that both own slots makes the lower configEpochs lose their slots and delete "
        "their keys; a seed list that mixes clusters sends clients to the wrong data."
    ),
    fix=(
        "Diagnose each cluster with its own seeds. Never CLUSTER MEET nodes of different clusters; to merge "
        "data, migrate keys (`redis-cli --cluster import`) into one cluster."
    ),
    heal="No: which cluster is the right one is a human decision.",
    run=run,
    explains=("M004", "M005", "E001", "E002", "E004", "S005", "M008"),
)
