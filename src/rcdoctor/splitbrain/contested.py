"""Contested shards (pure): a primary that still claims, in its own view, slots the majority's slot map
gives to another primary — the old primary cut off on the minority side versus the replica that took
over. Side a is the claimant outside the majority map (its writes since the partition began are the ones
Redis will drop when it rejoins), side b the owner in the majority map."""

from __future__ import annotations

from dataclasses import dataclass

from rcdoctor.model.slots import SlotRange, to_ranges
from rcdoctor.model.view import ClusterView, slot_array


@dataclass(frozen=True)
class Contest:
    old_id: str
    old_address: str
    new_id: str
    new_address: str
    slots: tuple[SlotRange, ...]

    @property
    def slot_numbers(self) -> list[int]:
        return [s for r in self.slots for s in range(r.start, r.end + 1)]

    def describe(self) -> str:
        ranges = ", ".join(str(r) for r in self.slots[:4]) + (" …" if len(self.slots) > 4 else "")
        count = sum(r.end - r.start + 1 for r in self.slots)
        return (
            f"{self.old_address} ({self.old_id[:8]}) still claims {count} slot(s) ({ranges}) that the majority "
            f"gives to {self.new_address} ({self.new_id[:8]})"
        )


def contests(ctx: ClusterView) -> list[Contest]:
    owners = slot_array(ctx.consensus)
    found: list[Contest] = []
    for sample in ctx.viewers:
        me = sample.myself
        if me is None or not me.is_primary or not me.slots or sample.node_id is None:
            continue
        by_owner: dict[str, list[int]] = {}
        for claimed in me.slots:
            for slot in range(claimed.start, claimed.end + 1):
                owner = owners[slot]
                if owner is not None and owner != sample.node_id:
                    by_owner.setdefault(owner, []).append(slot)
        for owner, slots in sorted(by_owner.items()):
            address = ctx.address(owner)
            if address is None:
                continue
            found.append(Contest(sample.node_id, sample.address, owner, address, to_ranges(slots)))
    return found
