from __future__ import annotations

from collections.abc import Iterator

from rcdoctor.checks.base import Check, Issue
from rcdoctor.checks.words import plural
from rcdoctor.model.slots import to_ranges
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import ClusterView, slot_array


def run(ctx: ClusterView) -> Iterator[Issue]:
    owners = slot_array(ctx.consensus)
    for sample in ctx.viewers:
        node_id = sample.node_id
        entry = sample.myself
        if node_id is None or entry is None:
            continue
        serves = entry.primary_id if entry.is_replica and entry.primary_id else node_id
        # Slots open anywhere: a migration in flight (or one left open on one side) puts keys on both sides
        # and on their replicas; S004 judges those, including keys clients cannot read. So do the slots a
        # server-side atomic migration is copying.
        open_here = ctx.open_slots | ctx.atomic_slots
        foreign = {
            slot: n
            for slot, n in sample.keys_in_slot().items()
            if n > 0 and owners[slot] != serves and slot not in open_here
        }
        unowned = _exact_elsewhere(ctx, sample)
        if not foreign and not unowned:
            continue
        by_owner: dict[str | None, list[int]] = {}
        for slot in sorted(foreign):
            by_owner.setdefault(owners[slot], []).append(slot)
        evidence = []
        for owner, slots in by_owner.items():
            keys = sum(foreign[s] for s in slots)
            whose = f"owned by {ctx.name(owner)}" if owner else "owned by nobody"
            evidence.append(f"{plural(keys, 'key')} in slot(s) {', '.join(str(r) for r in to_ranges(slots))} ({whose})")
        if foreign:
            evidence.append("found by sampling keys (SCAN, 1,000 keys per node) and counting their slots here")
        if unowned:
            evidence.append(
                f"exactly {plural(unowned, 'key')} outside its own slots: DBSIZE minus the key counts "
                "CLUSTER SLOT-STATS gives for the slots it owns"
            )
        what = plural(len(foreign), "slot") if foreign else "slots"
        yield Issue(
            title=f"{sample.address} holds keys of {what} it does not serve",
            nodes=ctx.refs([node_id, *(o for o in by_owner if o)]),
            evidence=tuple(evidence),
        )


def _exact_elsewhere(ctx: ClusterView, sample: NodeSample) -> int:
    """Keys a primary holds outside the slots it owns, exactly, where the server has CLUSTER SLOT-STATS
    (Valkey 8.0+, Redis 8.2+); 0 when it cannot be told. Not while any slot is open: an importing target
    holds keys of a slot it does not own yet, which S004 judges."""
    stats = sample.slot_stats()
    mine = sample.myself
    if stats is None or sample.keys is None or mine is None or not mine.is_primary:
        return 0
    if ctx.open_slots or ctx.atomic_slots:
        return 0
    return max(0, sample.keys - sum(stats.values()))


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
        "can be missed; where the server has CLUSTER SLOT-STATS (Valkey 8.0+, Redis 8.2+) DBSIZE minus its "
        "exact key counts says how many keys a primary holds outside its slots, however few. "
        "Slots open for migration anywhere (on either side of a move) and slots a server-side atomic "
        "migration is moving are left to S004."
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
