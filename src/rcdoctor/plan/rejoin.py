"""Planning the rejoin phase: nodes that know only themselves while the others form the cluster.

A node restarted without its nodes.conf comes back with a new id, knowing only itself, holding the keys
of its RDB/AOF and claiming the slots they hash to (config epoch 0). What it should become depends on
who serves those slots now:

- its old id is a primary that still owns them (no failover happened), or nobody owns them (the old
  id was forgotten): it takes the slots back with a config epoch above every other and is MET; its
  claim wins everywhere, no key moves (then the old id is forgotten);
- one live primary serves them (its replica took over, or it was a replica): its keys are a stale copy.
  Both claim the slots (E002). The served side wins (newer epoch, the live one). Keys only the copy
  holds are copied to the owner and everything it holds differently is written to a file first
  (salvage.py); then FLUSHALL, RESET SOFT, MEET, REPLICATE. Only different values need
  --allow-discard-replica-copy: they leave the cluster (the file keeps them);
- it is empty (a lost volume) at the address of a node the cluster still lists: MEET it and make it a
  replica of the primary that needs one most.

Every node alone (no cluster left) is rebuild.py's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rcdoctor.model.slots import SlotRange
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import ClusterView, uncovered
from rcdoctor.plan.addresses import meet_command
from rcdoctor.plan.conditions import Alone, Knows, OwnsNone
from rcdoctor.plan.evidence import missing, unproven
from rcdoctor.plan.slots import addslots
from rcdoctor.plan.steps import RISK_DISCARD, Facts, Flags, Salvage, Step


def slot_set(ranges: Sequence[SlotRange]) -> set[int]:
    return {s for r in ranges for s in range(r.start, r.end + 1)}


def lone(ctx: ClusterView) -> list[NodeSample]:
    """Answering nodes whose view holds only themselves."""
    return [s for s in ctx.viewers if s.node_id and s.myself is not None and len(s.view.value) == 1]


def member(ctx: ClusterView) -> NodeSample | None:
    return next((s for s in ctx.viewers if len(s.view.value) > 1), None)


def stale_copies(ctx: ClusterView) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Lone node id -> (the one live primary serving every slot it claims, those slots)."""
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    if member(ctx) is None:
        return found
    for sample in lone(ctx):
        assert sample.node_id is not None and sample.myself is not None
        claimed = slot_set(sample.myself.slots)
        owners = {o for r, o in ctx.consensus for s in range(r.start, r.end + 1) if s in claimed}
        if claimed and len(owners) == 1 and all(o in ctx.answers_at for o in owners):
            covered = {s for r, o in ctx.consensus if o in owners for s in range(r.start, r.end + 1)}
            if claimed <= covered:
                found[sample.node_id] = (next(iter(owners)), tuple(sorted(claimed)))
    return found


def rejoins(ctx: ClusterView, facts: Facts, flags: Flags, blocked: list[str]) -> tuple[list[Step], set[str]]:
    """Steps for every lone node while a cluster exists; the old ids whose slots a new id adopts."""
    steps: list[Step] = []
    adopted: set[str] = set()
    joined = member(ctx)
    if joined is None:
        return steps, adopted
    top_epoch = max((e.config_epoch for s in ctx.viewers for e in s.view.value), default=0)
    holes = {s for r in uncovered(ctx.consensus) for s in range(r.start, r.end + 1)}
    copies = stale_copies(ctx)
    for sample in lone(ctx):
        assert sample.node_id is not None and sample.myself is not None
        node_id, here = sample.node_id, sample.address
        claimed = slot_set(sample.myself.slots)
        old = [
            i
            for i in ctx.slot_primaries
            if i not in ctx.answers_at and claimed and claimed <= slot_set(ctx.owned_slots(i))
        ]
        if old and unproven(ctx, old[0], flags):
            # Its claim matches a silent primary's slots, but that primary may be a moved pod, alive
            # elsewhere: adopting its slots would make two primaries for them.
            blocked.append(missing(ctx, old[:1], f"giving {here} ({node_id[:8]}) the slots of"))
        elif old or (claimed and claimed <= holes):
            x = old[0] if old else None
            steps += _adopt(ctx, sample, x, top_epoch, joined)
            top_epoch += 1
            if x is not None:
                adopted.add(x)
        elif node_id in copies:
            steps += _merge_copy(ctx, sample, *copies[node_id], facts, flags, joined, blocked)
        elif not claimed and not sample.keys:
            steps += _empty(ctx, sample, joined, blocked)
        else:
            blocked.append(
                f"{here} ({node_id[:8]}) knows only itself and claims slots no single live primary or "
                "failed primary explains: compare its keys with the cluster's before doing anything (M006)"
            )
    return steps, adopted


def _adopt(ctx: ClusterView, sample: NodeSample, old: str | None, top_epoch: int, joined: NodeSample) -> list[Step]:
    assert sample.node_id is not None and sample.myself is not None
    node_id, here = sample.node_id, sample.address
    alone = (Alone(here, node_id),)
    steps = []
    claimed = slot_set(sample.myself.slots)
    if old is not None:
        missing = sorted(slot_set(ctx.owned_slots(old)) - claimed)
        if missing:
            steps.append(addslots(ctx, node_id, missing, f"take back the rest of {old[:8]}'s slots"))
        whose, what = f"{old[:8]}'s slots", f"{here} is {old[:8]} restarted without nodes.conf"
    else:
        whose, what = "slots nobody serves", f"{here} holds the keys of slots nobody serves"
    steps.append(
        Step(
            here,
            ("CLUSTER", "SET-CONFIG-EPOCH", str(top_epoch + 1)),
            f"a config epoch above every other ({top_epoch}), so its claim on {whose} wins",
            ("M006",),
            alone,
        )
    )
    steps.append(
        Step(
            joined.address,
            meet_command(here, sample.bus_port_number),
            f"{what} (new id {node_id[:8]}, same keys): bring it back"
            + ("; its replicas follow it" if old else "; its slots are covered again"),
            ("M006", "M003") if old else ("M006", "S001"),
            alone,
        )
    )
    if old is not None:
        # Forget the old id now, while it is known why it is gone (later rounds only see a node down).
        for viewer in [*(v.address for v, _ in ctx.listings.get(old, ())), here]:
            steps.append(
                Step(
                    viewer,
                    ("CLUSTER", "FORGET", old),
                    f"{old[:8]} is {node_id[:8]} now: once its slots moved to the new id, forget the old one",
                    ("M003",),
                    (OwnsNone(viewer, old),),
                )
            )
    return steps


def _merge_copy(
    ctx: ClusterView,
    sample: NodeSample,
    owner: str,
    slots: tuple[int, ...],
    facts: Facts,
    flags: Flags,
    joined: NodeSample,
    blocked: list[str],
) -> list[Step]:
    assert sample.node_id is not None
    node_id, here = sample.node_id, sample.address
    alone = (Alone(here, node_id),)
    owner_address = ctx.own[owner].address
    tally = facts.copies.get(node_id)
    if tally is None:
        blocked.append(f"{here} ({node_id[:8]}): its keys could not be compared with {ctx.name(owner)}'s (M006, E002)")
        return []
    risk = None
    if tally.differ:
        risk = (
            f"{tally.differ} key(s) hold other values here than on {ctx.name(owner)}: those values leave the "
            "cluster (kept in the salvage file)"
        )
    flush = Step(
        here,
        ("FLUSHALL",),
        f"its {sample.keys} keys are a stale copy of slots {ctx.name(owner)} serves (both claim them, E002); "
        f"first {tally.only_a} key(s) only it holds are copied to {ctx.name(owner)} and everything it holds "
        "differently is written to a salvage file",
        ("M006", "E002"),
        alone,
        risk=risk,
        salvage=Salvage(node_id, owner, owner_address, slots, allow_conflicts=flags.discard_copy),
    )
    if risk and not flags.discard_copy:
        blocked.append(f"{flush.describe()} (to rejoin {here} as a replica) needs {RISK_DISCARD}: {risk}")
        return []
    return [
        flush,
        Step(here, ("CLUSTER", "RESET", "SOFT"), "drop its claim on the slots", ("M006",), alone),
        Step(joined.address, meet_command(here, sample.bus_port_number), "bring it back", ("M006",), alone),
        replicate(sample, owner, f"replicate {ctx.name(owner)}, the primary serving its slots"),
    ]


def _empty(ctx: ClusterView, sample: NodeSample, joined: NodeSample, blocked: list[str]) -> list[Step]:
    """An empty lone node where the cluster lists another id, or lost a node's address (noaddr: a peer
    dialled it and another id answered): that node's replacement (a lost volume)."""
    assert sample.node_id is not None
    here = sample.address
    replaced = sorted(
        {
            e.id
            for s in ctx.viewers
            for e in s.view.value
            if e.id != sample.node_id and (e.address == here or "noaddr" in e.flags)
        }
    )
    if not replaced:
        blocked.append(
            f"{here} ({sample.node_id[:8]}) is empty and knows only itself, at an address the cluster does not "
            "list: if it should join, `rcdoctor add-node` it"
        )
        return []
    primary = needs_replica(ctx, sample.node_id)
    if primary is None:
        blocked.append(f"{here} is empty and alone, and no live primary to replicate was found")
        return []
    return [
        Step(
            joined.address,
            meet_command(here, sample.bus_port_number),
            f"{here} is empty and knows only itself where the cluster lost {replaced[0][:8]}: its replacement",
            ("M006",),
            (Alone(here, sample.node_id),),
        ),
        replicate(sample, primary, f"{ctx.name(primary)} needs a replica most (fewest, then another host first)"),
    ]


def needs_replica(ctx: ClusterView, node_id: str) -> str | None:
    """The live slot primary with the fewest live replicas, preferring one in another failure domain."""
    live = [p for p in ctx.slot_primaries if p in ctx.answers_at]
    if not live:
        return None
    count = {p: sum(r in ctx.answers_at for r in ctx.replicas_of.get(p, ())) for p in live}
    return fewest_followers(ctx, node_id, count)


def fewest_followers(ctx: ClusterView, node_id: str, count: Mapping[str, int]) -> str:
    """The primary of `count` (primary -> replicas it has) that `node_id` should follow: fewest replicas
    first, then one in another failure domain than `node_id`'s."""
    mine = ctx.domain(node_id)
    return min(count, key=lambda p: (count[p], ctx.domain(p) == mine, p))


def replicate(sample: NodeSample, primary: str, why: str) -> Step:
    assert sample.node_id is not None
    return Step(
        sample.address,
        ("CLUSTER", "REPLICATE", primary),
        why,
        ("M006",),
        (Knows(sample.address, sample.node_id, primary),),
    )
