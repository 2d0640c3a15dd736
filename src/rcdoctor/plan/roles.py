"""Planning the phases about roles and membership: failovers, replicas, FORGET."""

from __future__ import annotations

from collections import Counter

from rcdoctor.model.slots import format_ranges, to_ranges
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.conditions import AnswersAs, OwnsNone, ReplicaOf, Silent
from rcdoctor.plan.evidence import missing, named, unproven
from rcdoctor.plan.slots import orphan_copies
from rcdoctor.plan.steps import RISK_FORCE, RISK_TAKEOVER, Facts, Flags, Step


def failovers(ctx: ClusterView, facts: Facts, flags: Flags, blocked: list[str], adopted: set[str]) -> list[Step]:
    steps: list[Step] = []
    primaries = set(ctx.slot_primaries)
    held: list[str] = []
    for node_id in ctx.ids:
        if node_id in ctx.answers_at or not ctx.owned_slots(node_id) or not ctx.is_down(node_id):
            continue
        if node_id in adopted:
            continue  # it restarted without nodes.conf: its new id takes its slots back with its keys
        if unproven(ctx, node_id, flags):
            held.append(node_id)  # maybe alive elsewhere: a failover would make two primaries of one shard
            continue
        replicas = [r for r in ctx.replicas_of.get(node_id, ()) if r in ctx.answers_at]
        slots = format_ranges(ctx.owned_slots(node_id))
        if not replicas:
            blocked.append(
                f"{ctx.name(node_id)} owns slots {slots}, does not answer and has no answering replica: start it "
                "again (its data is on its disk), or accept losing those keys and reassign the slots by hand"
            )
            continue
        best = max(replicas, key=lambda r: (facts.offsets.get(r, -1), r))
        alive = [p for p in primaries if p in ctx.answers_at and p != node_id]
        majority = len(alive) >= ctx.quorum
        option, flag, allowed = (
            ("FORCE", RISK_FORCE, flags.failover_force) if majority else ("TAKEOVER", RISK_TAKEOVER, flags.takeover)
        )
        risk = (
            "writes the failed primary acknowledged but had not yet sent to this replica are lost"
            if majority
            else "no majority of primaries can vote: if the old primary is alive behind a partition, both sides "
            "accept writes (split brain) and one side's writes are lost when it heals"
        )
        step = Step(
            ctx.own[best].address,
            ("CLUSTER", "FAILOVER", option),
            f"{ctx.name(node_id)} owns {slots} and is down; its replica {best[:8]} has the most data "
            f"(offset {facts.offsets.get(best, '?')}) and did not take over",
            ("S002", "R005"),
            (
                Silent(ctx.address(node_id) or "", node_id),
                ReplicaOf(ctx.own[best].address, best, node_id),
            ),
            risk,
        )
        if allowed:
            steps.append(step)
        else:
            blocked.append(f"{step.describe()} needs {flag}: {risk}")
    if held:
        blocked.append(missing(ctx, held, "failing over the replicas of"))
    for replica, orphaned in sorted(orphan_copies(ctx, facts).items()):
        if replica not in ctx.answers_at:
            continue
        if ctx.moved:
            # Its primary is gone from the views, not proven gone: it may be one of the moved pods.
            blocked.append(missing(ctx, [replica], "promoting (TAKEOVER)"))
            continue
        step = Step(
            ctx.own[replica].address,
            ("CLUSTER", "FAILOVER", "TAKEOVER"),
            f"it holds the only copy of keys in uncovered slots {format_ranges(to_ranges(orphaned))} (its primary is "
            "gone from the other nodes' views): promoting it claims its primary's slots with those keys",
            ("S001", "R004"),
            (AnswersAs(ctx.own[replica].address, replica),),
            "if its old primary is alive behind a partition, both accept writes (split brain)",
        )
        if flags.takeover:
            steps.append(step)
        else:
            blocked.append(f"{step.describe()} needs {RISK_TAKEOVER}: {step.risk}")
    return steps


def replicas(ctx: ClusterView, keep: set[str]) -> list[Step]:
    """Re-point replicas of a primary that is gone (not when its slots still need them: failover first);
    nudge replicas whose link is down to a primary that answers (re-REPLICATE reconnects to its current
    address, which a 6.2 replica does not do by itself after the primary moved)."""
    steps: list[Step] = []
    load = Counter(
        {
            p: len([r for r in ctx.replicas_of.get(p, ()) if r in ctx.answers_at])
            for p in ctx.slot_primaries
            if p in ctx.answers_at
        }
    )
    for sample in ctx.own.values():
        mine = sample.myself
        if mine is None or mine.is_primary or not mine.primary_id:
            continue
        primary = mine.primary_id
        link = sample.info.get("replication", {}).get("master_link_status")
        if primary in ctx.answers_at and ctx.is_primary(primary):
            state = ctx.sync(sample.node_id or "")
            if link == "down" and state is not None and state.syncing:
                continue  # a sync in progress: another REPLICATE would restart it from the start
            if link == "down":
                steps.append(
                    Step(
                        sample.address,
                        ("CLUSTER", "REPLICATE", primary),
                        f"its link to {ctx.name(primary)} is down; REPLICATE reconnects to the current address",
                        ("R002",),
                        (AnswersAs(ctx.address(primary) or "", primary),),
                    )
                )
            continue
        if primary in ctx.ids and ctx.owned_slots(primary):
            continue  # its primary still owns slots: the failover phase decides, not a re-point
        if sample.node_id in keep:
            continue  # it holds the only copy of uncovered slots: re-pointing would flush them
        if not load:
            continue
        target = min(load, key=lambda p: (load[p], p))
        load[target] += 1
        steps.append(
            Step(
                sample.address,
                ("CLUSTER", "REPLICATE", target),
                f"it follows {primary[:8]}, gone and owning no slots; {ctx.name(target)} has the fewest replicas",
                ("R004",),
                (AnswersAs(ctx.address(target) or "", target),),
            )
        )
    return steps


def forgets(ctx: ClusterView, flags: Flags, blocked: list[str]) -> list[Step]:
    """FORGET, on every node that lists it, each node that answers nowhere, owns no slots, that no
    answering replica follows, and that is gone for good: no address (noaddr), or another node answers
    at its address (it was replaced). A node that is merely down is left alone unless --forget-down: a
    restarted pod with its nodes.conf rejoins by itself, and a forgotten one would be locked out."""
    steps: list[Step] = []
    for listings in ctx.listings.values():
        if all("handshake" in e.flags for _, e in listings):
            where = ", ".join(sorted({e.address for _, e in listings}))
            blocked.append(
                f"a handshake with {where} never completed: nodes drop it by themselves after the node timeout; "
                "if it comes back, something keeps sending CLUSTER MEET to that address"
            )
    followed = {s.myself.primary_id for s in ctx.own.values() if s.myself is not None and s.myself.primary_id}
    held: list[str] = []
    for node_id, listings in ctx.listings.items():
        if node_id in ctx.answers_at or ctx.owned_slots(node_id) or node_id in followed:
            continue
        seen = Counter(f for _, e in listings for f in e.flags)
        if seen.get("handshake"):
            continue  # a handshake entry expires by itself (and has no id to forget)
        if unproven(ctx, node_id, flags):
            held.append(node_id)  # noaddr, "replaced" or down: none of it proves a moved pod is gone
            continue
        where = ctx.address(node_id) or "no address"
        there = ctx.snapshot.node(where) if ctx.address(node_id) else None
        replaced = there is not None and there.answered and there.node_id not in (None, node_id)
        # Most answering nodes do not list it: it was forgotten on purpose and a few never followed.
        leftover = 2 * len(listings) < len(ctx.answers_at)
        gone = seen.get("noaddr") or replaced or leftover or named(flags, node_id)
        if not (gone or (flags.forget_down and ctx.is_down(node_id))):
            if ctx.is_down(node_id) and not seen.get("handshake"):
                blocked.append(
                    f"{node_id[:8]} ({where}) is down and owns no slots: it rejoins by itself when it comes back; "
                    "if it never will, run heal with --forget-down"
                )
            continue
        for viewer, _ in listings:
            steps.append(
                Step(
                    viewer.address,
                    ("CLUSTER", "FORGET", node_id),
                    f"{node_id[:8]} ({where}) is gone"
                    + (" (another node answers at its address)" if replaced else "")
                    + (f" (only {len(listings)} of {len(ctx.answers_at)} nodes still list it)" if leftover else "")
                    + ": it owns no slots and no replica follows it",
                    ("M003", "M001"),
                    (OwnsNone(viewer.address, node_id),),
                )
            )
    if held:
        blocked.append(missing(ctx, held, "forgetting"))
    return steps
