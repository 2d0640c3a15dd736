from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.view import ClusterView, runs, slot_array


def run(ctx: ClusterView) -> Iterator[Issue]:
    groups = ctx.view_groups
    if len(groups) < 2:
        return
    majority, majority_viewers = groups[0]
    base = slot_array(majority)
    for ownership, viewers in groups[1:]:
        diffs = runs(base, slot_array(ownership))
        if not diffs:
            continue
        viewer_ids = [s.node_id for s in viewers if s.node_id]
        owners: set[str] = set()
        evidence = []
        for slot_range, theirs_majority, theirs in diffs[:10]:
            owners.update(o for o in (theirs_majority, theirs) if o)
            evidence.append(
                f"slots {slot_range}: {plural(len(majority_viewers), 'node')} say "
                f"{_owner(ctx, theirs_majority)}; {ctx.names(viewer_ids, 3)} say {_owner(ctx, theirs)}"
            )
        if len(diffs) > 10:
            evidence.append(f"… and {len(diffs) - 10} more ranges")
        yield Issue(
            title=(
                f"{ctx.names(viewer_ids, 3)} disagree with {plural(len(majority_viewers), 'other node')} "
                f"about {plural(sum(len(r) for r, _, _ in diffs), 'slot')}"
            ),
            nodes=ctx.refs(viewer_ids),
            evidence=tuple(evidence),
            subjects=frozenset(owners) | frozenset(viewer_ids),
        )


def _owner(ctx: ClusterView, node_id: str | None) -> str:
    return ctx.name(node_id) if node_id else "no owner"


CHECK = Check(
    code="S005",
    name="views-disagree",
    family="slots",
    severity="warning",
    summary="Nodes disagree about who owns which slots; names the nodes and the ranges.",
    explanation=(
        "Every node keeps its own slot map and converges by gossip: the claim with the higher configEpoch wins. "
        "Views that still differ after a few seconds mean updates do not get through (partition, stale "
        "addresses), or a claim no one contradicts (a SETSLOT run on one node only). redis-cli only prints "
        '"Nodes don\'t agree about configuration!"; rcdoctor groups the nodes by their slot map and lists, '
        "per range, which nodes say which owner."
    ),
    evidence="The slot ranges in every answering node's CLUSTER NODES, grouped by identical maps.",
    why="Clients refreshing from different nodes get different maps: MOVED loops and writes to the wrong side.",
    fix=(
        "Usually a symptom: fix the cause listed with it. A lone wrong claim: `CLUSTER SETSLOT <slot> NODE "
        "<owner-id>` on the nodes that disagree, or bump the owner's epoch (`CLUSTER BUMPEPOCH` on the owner) so "
        "its claim wins."
    ),
    heal="Planned: heal re-asserts the majority owner once no other cause is left.",
    run=run,
)
