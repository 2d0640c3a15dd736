"""Planning the meet phase: MEET nodes back at new addresses (A003), forgotten on one side (M004), or
advertising a stale address of their own (A004); never a node whose announce settings would undo it."""

from __future__ import annotations

from rcdoctor.checks.config.c006_announce_mismatch import from_config
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.conditions import AnswersAs
from rcdoctor.plan.config import undoing
from rcdoctor.plan.steps import Step


def meet_command(address: str, bus_port: int | None) -> tuple[str, ...]:
    endpoint = parse_hostport(address)
    command: tuple[str, ...] = ("CLUSTER", "MEET", endpoint.host, str(endpoint.port))
    if bus_port is not None and bus_port != endpoint.port + 10000:
        command = (*command, str(bus_port))
    return command


def meets(ctx: ClusterView) -> list[Step]:
    """MEET every answering node, at the address where it answers, from every answering node that knows
    its id but lists it elsewhere; and from one peer to a node that advertises a stale address of its own
    (a node learns its own address from a MEET it receives). Only between nodes that already know each
    other's id: a MEET between two different clusters would merge them."""
    steps: list[Step] = []
    # A node whose own announce settings name the stale address re-announces it with its next gossip
    # packet: a MEET would be undone within a second. The config phase fixes the setting first (C006).
    undone = undoing(ctx)
    for node_id, sample in ctx.own.items():
        if node_id in undone:
            continue
        here = sample.address
        bus = sample.bus_port_number
        expect = (AnswersAs(here, node_id),)
        # Listed where its own announce settings put it is not stale, even when rcdoctor cannot reach that
        # address (behind NAT it may be the right one for the peers): a MEET elsewhere would be undone.
        stale_at = {
            v.node_id: e.address
            for v, e in ctx.listings.get(node_id, ())
            if e.address not in ctx.answers_at[node_id] and not from_config(sample, e.ip, e.port)
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
        if (
            mine is not None
            and mine.endpoint is not None
            and mine.address not in ctx.answers_at[node_id]
            and not from_config(sample, mine.ip, mine.port)
        ):
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
