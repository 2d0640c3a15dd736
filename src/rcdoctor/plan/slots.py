"""Planning the slots phase: open slots, uncovered slots, stray keys; and who holds an uncovered slot's keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from rcdoctor.model.slots import SLOT_COUNT, format_ranges, to_ranges
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.conditions import AnswersAs
from rcdoctor.plan.steps import Facts, Phase, Step, Stray


def key_holders(ctx: ClusterView, held: Mapping[str, int | None]) -> tuple[list[str], list[str]]:
    """(primaries holding keys, replicas holding keys whose own primary is not among those primaries):
    a replica's keys are its primary's copy, unless that primary holds none or is gone."""
    primaries = sorted(i for i, n in held.items() if n and ctx.is_primary(i) and i in ctx.answers_at)
    replicas = []
    for node_id, count in held.items():
        entry = ctx.entry(node_id)
        if count and not ctx.is_primary(node_id) and (entry is None or entry.primary_id not in primaries):
            replicas.append(node_id)
    return primaries, sorted(replicas)


def orphan_copies(ctx: ClusterView, facts: Facts) -> dict[str, list[int]]:
    """Replicas holding the only copy of keys of uncovered slots (their primary was forgotten or lost)."""
    found: dict[str, list[int]] = {}
    for slot, held in facts.uncovered_keys.items():
        primaries, replicas = key_holders(ctx, held)
        if not primaries:
            for replica in replicas:
                found.setdefault(replica, []).append(slot)
    return found


def slots(ctx: ClusterView, facts: Facts, blocked: list[str]) -> Phase:
    for closing in facts.closings:
        if closing.action == "stuck":
            blocked.append(f"slot {closing.slot} stays open: {closing.reason}")
    steps: list[Step] = []
    primaries = [p for p in ctx.slot_primaries if p in ctx.answers_at] or [
        i for i in ctx.answers_at if ctx.is_primary(i)
    ]
    spread: list[int] = []
    for slot, held in sorted(facts.uncovered_keys.items()):
        primaries_with, replicas_with = key_holders(ctx, held)
        holders = primaries_with + replicas_with
        if len(holders) == 1 and ctx.is_primary(holders[0]):
            steps.append(
                addslots(
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
        share = share_out(spread, primaries, owned)
        for primary, slots in share.items():
            steps.append(
                addslots(
                    ctx, primary, slots, f"slots {format_ranges(to_ranges(slots))} have no owner and no keys anywhere"
                )
            )
    return Phase("slots", tuple(steps), closings=tuple(facts.closings), strays=tuple(strays(ctx)))


def strays(ctx: ClusterView) -> list[Stray]:
    """Keys (found by the collector's key sample) that a primary holds in slots another live primary owns
    and that are not open anywhere (open slots are the engine's)."""
    owners = {s: o for r, o in ctx.consensus for s in range(r.start, r.end + 1)}
    found = []
    for node_id, sample in ctx.own.items():
        mine = sample.myself
        if mine is None or not mine.is_primary:
            continue
        # A slot open anywhere is the migration engine's to close (one slot, one repair): returning its
        # keys as strays too would race the closing, and reading them needs ASKING. A slot the server's
        # atomic migration is copying is the server's: moving its keys by hand would race it.
        open_here = ctx.open_slots | ctx.atomic_slots
        for slot, keys in sorted(sample.keys_in_slot().items()):
            owner = owners.get(slot)
            if keys and owner and owner != node_id and owner in ctx.answers_at and slot not in open_here:
                found.append(Stray(slot, node_id, sample.address, owner, ctx.own[owner].address, keys))
    return found


def share_out(slots: Sequence[int], primaries: Sequence[str], owned: Counter[str]) -> dict[str, list[int]]:
    """Contiguous runs of `slots`, each to the primary owning fewest slots so far."""
    result: dict[str, list[int]] = {}
    per = max(1, len(slots) // max(1, len(primaries)) + (1 if len(slots) % max(1, len(primaries)) else 0))
    for start in range(0, len(slots), per):
        chunk = list(slots[start : start + per])
        primary = min(primaries, key=lambda p: (owned[p], p))
        owned[primary] += len(chunk)
        result.setdefault(primary, []).extend(chunk)
    return result


def addslots(ctx: ClusterView, node_id: str, slots: list[int], why: str) -> Step:
    sample = ctx.own[node_id]
    ranges = to_ranges(slots)
    if sample.identity and sample.identity.at_least(redis=(7, 0)):
        command: tuple[str, ...] = ("CLUSTER", "ADDSLOTSRANGE", *(str(x) for r in ranges for x in (r.start, r.end)))
    else:
        command = ("CLUSTER", "ADDSLOTS", *(str(s) for s in slots))
    assert all(0 <= s < SLOT_COUNT for s in slots)
    return Step(sample.address, command, why, ("S001",), (AnswersAs(sample.address, node_id),))
