"""Closing slots an interrupted move left open, in the direction the keys say.

For each open slot (a node has it MIGRATING or IMPORTING, or the journal opened it and never closed it),
`decide` looks at where its keys are now (COUNTKEYSINSLOT on every primary) and chooses:
  - forward: keys are on the target already, or the source was migrating: move the rest, give it to the target;
  - cancel:  every key is still on the source and it was not migrating: drop the IMPORTING state;
  - stuck:   keys on a third node, a node involved not answering, or no way to tell source from target:
             left alone and explained (heal or a person decides).
Nothing here deletes a key: forward moves them with MIGRATE, cancel only clears a state. Pure: the key
counts are read by `session.count_keys`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rcdoctor.model.journals import InFlight
from rcdoctor.plan.topology import Topology


@dataclass(frozen=True)
class Closing:
    slot: int
    action: str  # "forward" | "cancel" | "stuck"
    source: str | None
    target: str | None
    reason: str


def slots_to_close(top: Topology, journal: Sequence[InFlight] = ()) -> list[int]:
    slots = {o.slot for o in top.open_slots}
    for flight in journal:
        slots.update(flight.slots)
    return sorted(slots)


def decide(
    top: Topology, counts: Mapping[int, Mapping[str, int | None]], journal: Sequence[InFlight] = ()
) -> list[Closing]:
    flights = {s: f for f in journal for s in f.slots}
    by_slot = {o.slot: o for o in top.open_slots}
    closings = []
    for slot in sorted(counts):
        opened = by_slot.get(slot)
        # A source or target that failed over since the slot was opened is now a replica of the node that
        # holds its keys (replication carried them) but not its open state (Redis does not replicate
        # SETSLOT): the move continues between the primaries serving those keys now.
        migrating = {serving(top, n): serving(top, t) for n, t in opened.migrating} if opened else {}
        importing = {serving(top, n): serving(top, f) for n, f in opened.importing} if opened else {}
        flight = flights.get(slot)
        owner = top.owners[slot]
        source = owner if owner in migrating else (serving(top, flight.source) if flight else None)
        if source is None and importing:
            source = next(iter(importing.values()))
        source = source or owner
        target = migrating.get(source or "") or (next(iter(importing)) if importing else None)
        if target is None and flight is not None:
            target = serving(top, flight.target)
        held = counts[slot]
        silent = [n for n in (source, target) if n and held.get(n, None) is None]
        holders = {n for n, c in held.items() if c}
        if source is None or target is None or source == target:
            if not holders - {owner}:
                closings.append(Closing(slot, "cancel", owner, None, "no move in progress; clearing the open state"))
            else:
                closings.append(_stuck(slot, source, target, held, "no source/target pair can be told"))
        elif silent:
            closings.append(_stuck(slot, source, target, held, f"{silent[0][:8]} did not answer"))
        elif holders - {source, target}:
            closings.append(_stuck(slot, source, target, held, "keys on a node that is neither source nor target"))
        elif target in holders or source in migrating or owner == target or not holders:
            closings.append(Closing(slot, "forward", source, target, _counts(held, source, target)))
        else:
            closings.append(Closing(slot, "cancel", source, target, _counts(held, source, target)))
    return closings


def serving(top: Topology, node_id: str) -> str:
    """The primary now serving what `node_id` held: itself, or its primary when it has become a replica."""
    node = top.nodes.get(node_id)
    if node is not None and not node.primary and node.primary_id and node.primary_id in top.nodes:
        return node.primary_id
    return node_id


def _counts(held: Mapping[str, int | None], source: str, target: str) -> str:
    return f"keys: {held.get(source)} on the source {source[:8]}, {held.get(target)} on the target {target[:8]}"


def _stuck(slot: int, source: str | None, target: str | None, held: Mapping[str, int | None], why: str) -> Closing:
    where = ", ".join(f"{n[:8]}={c}" for n, c in sorted(held.items()) if c) or "no keys anywhere"
    return Closing(slot, "stuck", source, target, f"{why} ({where})")
