"""Planning the phases about where nodes are: MEET moved nodes, rejoin nodes that lost nodes.conf."""

from __future__ import annotations

from collections.abc import Sequence

from rcdoctor.checks.context import Context
from rcdoctor.heal.plan_slots import addslots
from rcdoctor.heal.steps import RISK_DISCARD, Expect, Flags, Step
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.slots import SlotRange


def meet_command(address: str, bus_port: int | None) -> tuple[str, ...]:
    endpoint = parse_hostport(address)
    command: tuple[str, ...] = ("CLUSTER", "MEET", endpoint.host, str(endpoint.port))
    if bus_port is not None and bus_port != endpoint.port + 10000:
        command = (*command, str(bus_port))
    return command


def meets(ctx: Context) -> list[Step]:
    """MEET every answering node, at the address where it answers, from every answering node that knows
    its id but lists it elsewhere; and from one peer to a node that advertises a stale address of its own
    (a node learns its own address from a MEET it receives). Only between nodes that already know each
    other's id: a MEET between two different clusters would merge them."""
    steps: list[Step] = []
    for node_id, sample in ctx.own.items():
        here = sample.address
        bus = sample.bus_port_number
        expect = (Expect("answers-as", here, node_id),)
        stale_at = {
            v.node_id: e.address for v, e in ctx.listings.get(node_id, ()) if e.address not in ctx.answers_at[node_id]
        }
        for viewer_id, old in sorted(stale_at.items(), key=lambda x: str(x[0])):
            if viewer_id is None or viewer_id == node_id:
                continue
            steps.append(
                Step(
                    ctx.own[viewer_id].address,
                    meet_command(here, bus),
                    f"it lists {node_id[:8]} at {old}; {node_id[:8]} answers at {here}",
                    ("A003",),
                    expect,
                )
            )
        listed_by = {v.node_id for v, _ in ctx.listings.get(node_id, ())}
        knows = {e.id for e in sample.view.value}
        for viewer_id, viewer in ctx.own.items():
            # It lists this node's peers but not this node, and this node lists it: one forgot the other
            # (a FORGET on one node only, M004). The same cluster, so a MEET is safe.
            if viewer_id == node_id or viewer_id in listed_by or viewer_id not in knows:
                continue
            steps.append(
                Step(
                    viewer.address,
                    meet_command(here, bus),
                    f"it does not list {node_id[:8]}, which lists it and is listed by the other nodes",
                    ("M004",),
                    expect,
                )
            )
        mine = sample.myself
        if mine is not None and mine.endpoint is not None and mine.address not in ctx.answers_at[node_id]:
            peer = next((v for v, _ in ctx.listings.get(node_id, ()) if v.node_id not in (None, node_id)), None)
            if peer is not None and not any(
                s.node == peer.address and s.command[2:4] == meet_command(here, bus)[2:4] for s in steps
            ):
                steps.append(
                    Step(
                        peer.address,
                        meet_command(here, bus),
                        f"{node_id[:8]} advertises itself at {mine.address}; a MEET it receives teaches it {here}",
                        ("A004",),
                        expect,
                    )
                )
    return steps


def slot_set(ranges: Sequence[SlotRange]) -> set[int]:
    return {s for r in ranges for s in range(r.start, r.end + 1)}


def rejoins(ctx: Context, flags: Flags, blocked: list[str]) -> tuple[list[Step], set[str]]:
    """Nodes that restarted without nodes.conf: a new id that knows only itself, holding the keys (from
    its RDB/AOF) and claiming their slots, while the others list its old id (soon without an address).

    - Its old id is a primary that still owns slots (no failover happened): the new id takes all of the
      old id's slots, with a config epoch above every other, then is MET: its claim wins everywhere, the
      old id is left with nothing (forgotten in a later phase) and its replicas follow the new id. No key
      moves; nothing is lost.
    - Its claimed slots belong to a live primary: its keys are a stale replica copy. It can only rejoin
      empty (Redis refuses REPLICATE with keys): FLUSHALL, RESET SOFT, MEET, REPLICATE that primary —
      only with --allow-discard-replica-copy.
    """
    steps: list[Step] = []
    adopted: set[str] = set()
    if len(ctx.viewers) < 2:
        return steps, adopted
    top_epoch = max((e.config_epoch for s in ctx.viewers for e in s.view.value), default=0)
    member = next((s for s in ctx.viewers if len(s.view.value) > 1), None)
    for sample in ctx.viewers:
        mine = sample.myself
        if sample.node_id is None or mine is None or len(sample.view.value) != 1 or member is None:
            continue
        claimed = slot_set(mine.slots)
        here = sample.address
        alone = (Expect("alone", here, sample.node_id),)
        old = [
            i
            for i in ctx.slot_primaries
            if i not in ctx.answers_at and claimed and claimed <= slot_set(ctx.owned_slots(i))
        ]
        owners = {o for r, o in ctx.consensus for s in range(r.start, r.end + 1) if s in claimed}
        if old:
            x = old[0]
            missing = sorted(slot_set(ctx.owned_slots(x)) - claimed)
            if missing:
                steps.append(addslots(ctx, sample.node_id, missing, f"take back the rest of {x[:8]}'s slots"))
            steps.append(
                Step(
                    here,
                    ("CLUSTER", "SET-CONFIG-EPOCH", str(top_epoch + 1)),
                    f"a config epoch above every other ({top_epoch}), so its claim on {x[:8]}'s slots wins",
                    ("M006",),
                    alone,
                )
            )
            steps.append(
                Step(
                    member.address,
                    meet_command(here, sample.bus_port_number),
                    f"{here} is {x[:8]} restarted without nodes.conf (new id {sample.node_id[:8]}, same keys): "
                    "bring it back; its replicas follow it",
                    ("M006", "M003"),
                    alone,
                )
            )
            # Forget the old id now, while it is known why it is gone (later rounds only see a node down).
            for viewer in [*(v.address for v, _ in ctx.listings.get(x, ())), here]:
                steps.append(
                    Step(
                        viewer,
                        ("CLUSTER", "FORGET", x),
                        f"{x[:8]} is {sample.node_id[:8]} now: once its slots moved to the new id, forget the old one",
                        ("M003",),
                        (Expect("owns-none", viewer, x),),
                    )
                )
            adopted.add(x)
        elif owners and all(o in ctx.answers_at for o in owners) and len(owners) == 1:
            (primary,) = owners
            flush = Step(
                here,
                ("FLUSHALL",),
                f"its {sample.keys} keys are a copy of {ctx.name(primary)}'s slots, which that primary serves",
                ("M006",),
                alone,
                risk="keys only this copy has (writes the primary lost) are deleted",
            )
            if not flags.discard_copy:
                blocked.append(f"{flush.describe()} (to rejoin {here} as a replica) needs {RISK_DISCARD}: {flush.risk}")
                continue
            steps.append(flush)
            steps.append(Step(here, ("CLUSTER", "RESET", "SOFT"), "drop its claim on the slots", ("M006",), alone))
            steps.append(Step(member.address, meet_command(here, sample.bus_port_number), "bring it back", ("M006",)))
            steps.append(
                Step(
                    here,
                    ("CLUSTER", "REPLICATE", primary),
                    f"replicate {ctx.name(primary)} again",
                    ("M006",),
                    (Expect("knows", here, sample.node_id, primary),),
                )
            )
        else:
            blocked.append(
                f"{here} ({sample.node_id[:8]}) knows only itself and claims slots no single live primary or "
                "failed primary explains: compare its keys with the cluster's before doing anything (M006)"
            )
    return steps, adopted
