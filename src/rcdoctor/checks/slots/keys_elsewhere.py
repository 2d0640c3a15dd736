from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.context import Context, slot_array
from rcdoctor.checks.words import plural
from rcdoctor.model.slots import to_ranges


def run(ctx: Context) -> Iterator[Issue]:
    owners = slot_array(ctx.consensus)
    for sample in ctx.viewers:
        node_id = sample.node_id
        entry = sample.myself
        if node_id is None or entry is None:
            continue
        serves = entry.primary_id if entry.is_replica and entry.primary_id else node_id
        open_here = {slot for slot, _ in (*entry.migrating, *entry.importing)}
        foreign = {
            slot: n
            for slot, n in sample.keys_in_slot().items()
            if n > 0 and owners[slot] != serves and slot not in open_here
        }
        if not foreign:
            continue
        by_owner: dict[str | None, list[int]] = {}
        for slot in sorted(foreign):
            by_owner.setdefault(owners[slot], []).append(slot)
        evidence = []
        for owner, slots in by_owner.items():
            keys = sum(foreign[s] for s in slots)
            whose = f"owned by {ctx.name(owner)}" if owner else "owned by nobody"
            evidence.append(f"{plural(keys, 'key')} in slot(s) {', '.join(str(r) for r in to_ranges(slots))} ({whose})")
        evidence.append("found by sampling keys (SCAN, 1,000 keys per node) and counting their slots here")
        yield Issue(
            title=f"{sample.address} holds keys of {plural(len(foreign), 'slot')} it does not serve",
            nodes=ctx.refs([node_id, *(o for o in by_owner if o)]),
            evidence=tuple(evidence),
        )


CHECK = Check(
    code="S003",
    name="keys-on-non-owner",
    family="slots",
    severity="critical",
    summary="A node holds keys in slots that, by the cluster's slot map, another node (or nobody) owns.",
    explanation=(
        "A slot's keys should live only on its owner (and the owner's replicas). Keys elsewhere are left over "
        "from an interrupted migration, a slot assigned twice, a node that lost its slots, or a manual "
        "restore. Clients never read them (they are redirected to the owner), so they are invisible and "
        "possibly newer than the owner's copies. rcdoctor samples up to 1,000 keys per node with one SCAN and "
        "counts every slot the sample finds outside the node's own slots, so a few stray keys among millions "
        "can be missed. Slots open for migration on the node are left to S004."
    ),
    evidence="The key-slot sample and CLUSTER COUNTKEYSINSLOT on each node, against the consensus slot map.",
    why="Two copies of the same keys: a later reshard or heal could overwrite the good copy with the stale one.",
    fix=(
        "Compare both copies (`CLUSTER GETKEYSINSLOT <slot> 100` on each node, then DUMP/GET). Move the keys "
        'that should survive to the owner (`MIGRATE <owner-ip> <port> "" 0 5000 REPLACE KEYS ...`, after '
        "`CLUSTER SETSLOT <slot> IMPORTING/MIGRATING` on both sides) and delete the rest on the non-owner."
    ),
    heal="No: which copy is right is a human decision; heal will show both and never delete either.",
    run=run,
)
