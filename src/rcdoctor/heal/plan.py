"""The heal plan: diagnose's picture of the cluster turned into ordered phases of steps (pure).

Phases run in this order, because each one's facts depend on the ones before:
  1. meet       nodes back at new addresses: MEET them at the address where they answer now (A003/A004)
  2. failover   a failed primary with slots whose replica did not take over (S002/R005): FORCE/TAKEOVER,
                only behind the flag that names the risk
  3. replicas   replicas following a primary that is gone, or whose link is down (R004/R002)
  4. forget     ghosts and failed nodes that own nothing: FORGET on every node at once (M003/M001)
  5. slots      open slots closed in the direction of the keys (S004); uncovered slots given to the node
                holding their keys, else spread over the primaries (S001)
The executor runs the first phase, waits for the cluster to settle, collects again and plans again, so a
later phase is always planned from facts, not from a guess of what the earlier one changed. A dry run
prints every phase as planned from the facts now.

Facts that need I/O beyond the snapshot (keys per slot for open and uncovered slots) are passed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rcdoctor.checks.context import Context
from rcdoctor.heal.strays import Stray
from rcdoctor.migrate.resume import Closing
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.slots import SLOT_COUNT, SlotRange, format_ranges, to_ranges

RISK_FORCE = "--allow-failover-force"
RISK_TAKEOVER = "--allow-takeover"
RISK_DISCARD = "--allow-discard-replica-copy"


@dataclass(frozen=True)
class Flags:
    failover_force: bool = False
    takeover: bool = False
    discard_copy: bool = False  # flush a restarted replica's stale copy so it can replicate again
    forget_down: bool = False  # also forget slotless nodes that are merely down (they may come back)


@dataclass(frozen=True)
class Expect:
    """What must hold on the live cluster right before a step runs (re-checked by the executor)."""

    kind: str  # "answers-as" | "silent" | "replica-of" | "owns-none"
    address: str
    node_id: str = ""
    other: str = ""


@dataclass(frozen=True)
class Step:
    node: str  # address the command is sent to
    command: tuple[str, ...]
    why: str
    answers: tuple[str, ...]  # finding codes this step answers
    expect: tuple[Expect, ...] = ()
    risk: str | None = None  # None: cannot lose data

    def describe(self) -> str:
        shown = self.command if len(self.command) <= 8 else (*self.command[:6], f"… ({len(self.command) - 6} more)")
        return f"{self.node}: {' '.join(shown)}"


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[Step, ...] = ()
    closings: tuple[Closing, ...] = ()  # slots phase: open slots closed through the migration engine
    strays: tuple[Stray, ...] = ()  # slots phase: keys on a primary that does not own their slot
    parallel: bool = False  # FORGETs: all at once, inside the 60 s blacklist window; MEETs: all at once
    # Replicas get cluster-replica-no-failover yes while the phase runs and settles (restored after): as
    # nodes reconnect they swap failure reports gathered while they could not see each other, and a
    # replica would win an election against a primary that is alive.
    hold_failovers: bool = False

    @property
    def empty(self) -> bool:
        return not self.steps and not self.strays and not any(c.action != "stuck" for c in self.closings)


@dataclass(frozen=True)
class HealPlan:
    phases: tuple[Phase, ...]
    blocked: tuple[str, ...] = ()  # what heal will not do now, and why (a flag, a human decision)

    @property
    def empty(self) -> bool:
        return all(p.empty for p in self.phases)


@dataclass(frozen=True)
class Facts:
    """Read from the live cluster by the heal session for the slots the snapshot shows problems with."""

    closings: tuple[Closing, ...] = ()  # migrate.resume's decision for every open slot
    uncovered_keys: Mapping[int, Mapping[str, int | None]] = field(default_factory=dict)  # slot -> id -> keys
    offsets: Mapping[str, int] = field(default_factory=dict)  # replica id -> replication offset


def plan(ctx: Context, facts: Facts, flags: Flags) -> HealPlan:
    blocked: list[str] = []
    rejoin, adopted = _rejoins(ctx, flags, blocked)
    phases = [
        Phase("meet", tuple(_meets(ctx)), parallel=True, hold_failovers=True),
        Phase("rejoin", tuple(rejoin)),
        Phase("failover", tuple(_failovers(ctx, facts, flags, blocked, adopted))),
        Phase("replicas", tuple(_replicas(ctx, set(_orphan_copies(ctx, facts))))),
        Phase("forget", tuple(_forgets(ctx, flags, blocked)), parallel=True),
        _slots(ctx, facts, blocked),
    ]
    return HealPlan(tuple(p for p in phases if not p.empty), tuple(blocked))


def _meet_command(address: str, bus_port: int | None) -> tuple[str, ...]:
    endpoint = parse_hostport(address)
    command: tuple[str, ...] = ("CLUSTER", "MEET", endpoint.host, str(endpoint.port))
    if bus_port is not None and bus_port != endpoint.port + 10000:
        command = (*command, str(bus_port))
    return command


def _meets(ctx: Context) -> list[Step]:
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
                    _meet_command(here, bus),
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
                    _meet_command(here, bus),
                    f"it does not list {node_id[:8]}, which lists it and is listed by the other nodes",
                    ("M004",),
                    expect,
                )
            )
        mine = sample.myself
        if mine is not None and mine.endpoint is not None and mine.address not in ctx.answers_at[node_id]:
            peer = next((v for v, _ in ctx.listings.get(node_id, ()) if v.node_id not in (None, node_id)), None)
            if peer is not None and not any(
                s.node == peer.address and s.command[2:4] == _meet_command(here, bus)[2:4] for s in steps
            ):
                steps.append(
                    Step(
                        peer.address,
                        _meet_command(here, bus),
                        f"{node_id[:8]} advertises itself at {mine.address}; a MEET it receives teaches it {here}",
                        ("A004",),
                        expect,
                    )
                )
    return steps


def _failovers(ctx: Context, facts: Facts, flags: Flags, blocked: list[str], adopted: set[str]) -> list[Step]:
    steps: list[Step] = []
    primaries = set(ctx.slot_primaries)
    for node_id in ctx.ids:
        if node_id in ctx.answers_at or not ctx.owned_slots(node_id) or not ctx.is_down(node_id):
            continue
        if node_id in adopted:
            continue  # it restarted without nodes.conf: its new id takes its slots back with its keys
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
                Expect("silent", ctx.address(node_id) or "", node_id),
                Expect("replica-of", ctx.own[best].address, best, node_id),
            ),
            risk,
        )
        if allowed:
            steps.append(step)
        else:
            blocked.append(f"{step.describe()} needs {flag}: {risk}")
    for replica, orphaned in sorted(_orphan_copies(ctx, facts).items()):
        if replica not in ctx.answers_at:
            continue
        step = Step(
            ctx.own[replica].address,
            ("CLUSTER", "FAILOVER", "TAKEOVER"),
            f"it holds the only copy of keys in uncovered slots {format_ranges(to_ranges(orphaned))} (its primary is "
            "gone from the other nodes' views): promoting it claims its primary's slots with those keys",
            ("S001", "R004"),
            (Expect("answers-as", ctx.own[replica].address, replica),),
            "if its old primary is alive behind a partition, both accept writes (split brain)",
        )
        if flags.takeover:
            steps.append(step)
        else:
            blocked.append(f"{step.describe()} needs {RISK_TAKEOVER}: {step.risk}")
    return steps


def _holders(ctx: Context, held: Mapping[str, int | None]) -> tuple[list[str], list[str]]:
    """(primaries holding keys, replicas holding keys whose own primary is not among those primaries):
    a replica's keys are its primary's copy, unless that primary holds none or is gone."""
    primaries = sorted(i for i, n in held.items() if n and ctx.is_primary(i) and i in ctx.answers_at)
    replicas = []
    for node_id, count in held.items():
        entry = ctx.entry(node_id)
        if count and not ctx.is_primary(node_id) and (entry is None or entry.primary_id not in primaries):
            replicas.append(node_id)
    return primaries, sorted(replicas)


def _orphan_copies(ctx: Context, facts: Facts) -> dict[str, list[int]]:
    """Replicas holding the only copy of keys of uncovered slots (their primary was forgotten or lost)."""
    found: dict[str, list[int]] = {}
    for slot, held in facts.uncovered_keys.items():
        primaries, replicas = _holders(ctx, held)
        if not primaries:
            for replica in replicas:
                found.setdefault(replica, []).append(slot)
    return found


def _slot_set(ranges: Sequence[SlotRange]) -> set[int]:
    return {s for r in ranges for s in range(r.start, r.end + 1)}


def _rejoins(ctx: Context, flags: Flags, blocked: list[str]) -> tuple[list[Step], set[str]]:
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
        claimed = _slot_set(mine.slots)
        here = sample.address
        alone = (Expect("alone", here, sample.node_id),)
        old = [
            i
            for i in ctx.slot_primaries
            if i not in ctx.answers_at and claimed and claimed <= _slot_set(ctx.owned_slots(i))
        ]
        owners = {o for r, o in ctx.consensus for s in range(r.start, r.end + 1) if s in claimed}
        if old:
            x = old[0]
            missing = sorted(_slot_set(ctx.owned_slots(x)) - claimed)
            if missing:
                steps.append(_addslots(ctx, sample.node_id, missing, f"take back the rest of {x[:8]}'s slots"))
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
                    _meet_command(here, sample.bus_port_number),
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
            steps.append(Step(member.address, _meet_command(here, sample.bus_port_number), "bring it back", ("M006",)))
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


def _replicas(ctx: Context, keep: set[str]) -> list[Step]:
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
            if link == "down":
                steps.append(
                    Step(
                        sample.address,
                        ("CLUSTER", "REPLICATE", primary),
                        f"its link to {ctx.name(primary)} is down; REPLICATE reconnects to the current address",
                        ("R002",),
                        (Expect("answers-as", ctx.address(primary) or "", primary),),
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
                (Expect("answers-as", ctx.address(target) or "", target),),
            )
        )
    return steps


def _forgets(ctx: Context, flags: Flags, blocked: list[str]) -> list[Step]:
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
    for node_id, listings in ctx.listings.items():
        if node_id in ctx.answers_at or ctx.owned_slots(node_id) or node_id in followed:
            continue
        seen = Counter(f for _, e in listings for f in e.flags)
        if seen.get("handshake"):
            continue  # a handshake entry expires by itself (and has no id to forget)
        where = ctx.address(node_id) or "no address"
        there = ctx.snapshot.node(where) if ctx.address(node_id) else None
        replaced = there is not None and there.answered and there.node_id not in (None, node_id)
        # Most answering nodes do not list it: it was forgotten on purpose and a few never followed.
        leftover = 2 * len(listings) < len(ctx.answers_at)
        if not (seen.get("noaddr") or replaced or leftover or (flags.forget_down and ctx.is_down(node_id))):
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
                    (Expect("owns-none", viewer.address, node_id),),
                )
            )
    return steps


def _slots(ctx: Context, facts: Facts, blocked: list[str]) -> Phase:
    for closing in facts.closings:
        if closing.action == "stuck":
            blocked.append(f"slot {closing.slot} stays open: {closing.reason}")
    steps: list[Step] = []
    primaries = [p for p in ctx.slot_primaries if p in ctx.answers_at] or [
        i for i in ctx.answers_at if ctx.is_primary(i)
    ]
    spread: list[int] = []
    for slot, held in sorted(facts.uncovered_keys.items()):
        primaries_with, replicas_with = _holders(ctx, held)
        holders = primaries_with + replicas_with
        if len(holders) == 1 and ctx.is_primary(holders[0]):
            steps.append(
                _addslots(
                    ctx,
                    holders[0],
                    [slot],
                    f"slot {slot} has no owner; {holders[0][:8]} holds its {held[holders[0]]} keys",
                )
            )
        elif len(holders) > 1:
            blocked.append(
                f"slot {slot} has no owner and keys on {len(holders)} nodes ({', '.join(h[:8] for h in holders)}): "
                "which copy is right is a human decision"
            )
        elif holders:
            blocked.append(f"slot {slot} has no owner; its keys are on replica {holders[0][:8]}: fail it over first")
        else:
            spread.append(slot)
    if spread and primaries:
        owned = Counter({p: sum(len(r) for r in ctx.owned_slots(p)) for p in primaries})
        share = _share(spread, primaries, owned)
        for primary, slots in share.items():
            steps.append(
                _addslots(
                    ctx, primary, slots, f"slots {format_ranges(to_ranges(slots))} have no owner and no keys anywhere"
                )
            )
    return Phase("slots", tuple(steps), closings=tuple(facts.closings), strays=tuple(_strays(ctx)))


def _strays(ctx: Context) -> list[Stray]:
    """Keys (found by the collector's key sample) that a primary holds in slots another live primary owns
    and that are not open on it (open slots are the engine's)."""
    owners = {s: o for r, o in ctx.consensus for s in range(r.start, r.end + 1)}
    found = []
    for node_id, sample in ctx.own.items():
        mine = sample.myself
        if mine is None or not mine.is_primary:
            continue
        open_here = {slot for slot, _ in (*mine.migrating, *mine.importing)}
        for slot, keys in sorted(sample.keys_in_slot().items()):
            owner = owners.get(slot)
            if keys and owner and owner != node_id and owner in ctx.answers_at and slot not in open_here:
                found.append(Stray(slot, node_id, sample.address, owner, ctx.own[owner].address, keys))
    return found


def _share(slots: Sequence[int], primaries: Sequence[str], owned: Counter[str]) -> dict[str, list[int]]:
    """Contiguous runs of `slots`, each to the primary owning fewest slots so far."""
    result: dict[str, list[int]] = {}
    per = max(1, len(slots) // max(1, len(primaries)) + (1 if len(slots) % max(1, len(primaries)) else 0))
    for start in range(0, len(slots), per):
        chunk = list(slots[start : start + per])
        primary = min(primaries, key=lambda p: (owned[p], p))
        owned[primary] += len(chunk)
        result.setdefault(primary, []).extend(chunk)
    return result


def _addslots(ctx: Context, node_id: str, slots: list[int], why: str) -> Step:
    sample = ctx.own[node_id]
    ranges = to_ranges(slots)
    if sample.version and tuple(int(p) for p in sample.version.split(".")[:2] if p.isdigit()) >= (7, 0):
        command: tuple[str, ...] = ("CLUSTER", "ADDSLOTSRANGE", *(str(x) for r in ranges for x in (r.start, r.end)))
    else:
        command = ("CLUSTER", "ADDSLOTS", *(str(s) for s in slots))
    assert all(0 <= s < SLOT_COUNT for s in slots)
    return Step(sample.address, command, why, ("S001",), (Expect("answers-as", sample.address, node_id),))
