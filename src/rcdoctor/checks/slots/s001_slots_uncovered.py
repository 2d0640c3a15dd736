from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural, slots_text
from rcdoctor.model.slots import SlotRange
from rcdoctor.model.view import ClusterView, uncovered


def run(ctx: ClusterView) -> Iterator[Issue]:
    by_gap: dict[tuple[SlotRange, ...], list[str]] = {}
    for ownership, viewers in ctx.view_groups:
        gap = uncovered(ownership)
        if gap:
            by_gap.setdefault(gap, []).extend(s.node_id for s in viewers if s.node_id)
    for gap, viewer_ids in by_gap.items():
        slots = {s for r in gap for s in range(r.start, r.end + 1)}
        holders = []
        for sample in ctx.viewers:
            counts = {slot: n for slot, n in sample.keys_in_slot().items() if slot in slots and n > 0}
            if counts:
                holders.append(
                    f"{sample.address} holds keys in {plural(len(counts), 'slot')} of them "
                    f"({sum(counts.values())} keys counted): give them back there with CLUSTER ADDSLOTS"
                )
        full = {ctx.config(i, "cluster-require-full-coverage") for i in viewer_ids}
        evidence = [
            f"no primary owns {slots_text(gap)} in the views of {ctx.names(viewer_ids)}",
            "cluster-require-full-coverage is yes: the whole cluster refuses commands"
            if "yes" in full
            else "cluster-require-full-coverage is no: only keys of these slots fail",
            *holders,
        ]
        yield Issue(
            title=f"{plural(sum(len(r) for r in gap), 'slot')} have no owner ({slots_text(gap, 3)})",
            nodes=ctx.refs(viewer_ids),
            evidence=tuple(evidence),
        )


CHECK = Check(
    code="S001",
    name="slots-uncovered",
    family="slots",
    severity="critical",
    summary="Some hash slots have no owner in the nodes' views.",
    explanation=(
        "Every one of the 16384 slots must be assigned to a primary. Slots are left without an owner by a "
        "CLUSTER DELSLOTS, a failed reshard, a primary removed before its slots moved, or a node that lost its "
        "nodes.conf and only re-claims the slots it has keys for."
    ),
    evidence="Slot ranges of the primaries in every answering node's CLUSTER NODES; key counts where sampled.",
    why="With cluster-require-full-coverage yes (the default) the whole cluster goes to cluster_state:fail.",
    fix=(
        "If a node still holds the slot's keys, give the slot back to it: `CLUSTER ADDSLOTS <slot>` on that "
        "node (or `CLUSTER ADDSLOTSRANGE a b`, 7.0+). Otherwise assign it to any primary; `redis-cli --cluster "
        "fix HOST:PORT` does this."
    ),
    heal=(
        "Yes (slots phase): each uncovered slot goes to the one primary holding its keys, else to the primary "
        "with the fewest slots; keys on several nodes are left to a human."
    ),
    run=run,
    explains=("M008", "S003"),
)
