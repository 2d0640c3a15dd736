"""Which slots go where (pure): rebalance, reshard and drain plans over a Topology.

A plan is a list of transfers (source -> target, slots). The engine runs transfers that share no node
at the same time, so a plan spreads the work over as many disjoint pairs as the moves allow.

Balance is measured by a cost per slot: 1 (`by=slots`, what redis-cli balances), the keys in the slot
(`by=keys`) or an estimate of its bytes (`by=memory`: keys in the slot times its owner's bytes per key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from rcdoctor.errors import UsageError
from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.plan.topology import Node, Topology

BY = ("slots", "keys", "memory")


@dataclass(frozen=True)
class Transfer:
    source: str
    target: str
    slots: tuple[int, ...]


@dataclass(frozen=True)
class MovePlan:
    transfers: tuple[Transfer, ...]
    by: str = "slots"
    before: Mapping[str, float] = field(default_factory=dict)  # node id -> load (in `by` units)
    after: Mapping[str, float] = field(default_factory=dict)
    note: str = ""  # why there is nothing to do, or what the plan achieves
    warnings: tuple[str, ...] = ()  # what the plan leaves that a user may not expect (an emptied primary)

    @property
    def slot_count(self) -> int:
        return sum(len(t.slots) for t in self.transfers)


def slot_costs(top: Topology, by: str, keys_in_slot: Mapping[int, int] | None) -> list[float]:
    """The cost of each slot under `by`; keys and memory need every slot's key count."""
    if by == "slots":
        return [1.0] * SLOT_COUNT
    if keys_in_slot is None:
        raise UsageError(f"--by {by} needs the key count of every slot")
    costs = [float(keys_in_slot.get(s, 0)) for s in range(SLOT_COUNT)]
    if by == "memory":
        per_key = {n.node_id: (n.memory or 0) / n.keys if n.keys else 0.0 for n in top.primaries}
        costs = [c * per_key.get(top.owners[s] or "", 0.0) for s, c in enumerate(costs)]
    return costs


def rebalance(
    top: Topology,
    weights: Mapping[str, float] | None = None,
    use_empty: bool = False,
    by: str = "slots",
    threshold: float = 2.0,
    keys_in_slot: Mapping[int, int] | None = None,
) -> MovePlan:
    """Move slots so each primary's load matches its weight's share, if any is off by more than
    `threshold` percent of its share (redis-cli's rule). Weight 0 empties a primary."""
    weights = dict(weights or {})
    members = [n for n in top.primaries if n.slots or use_empty or n.node_id in weights]
    if len(members) < 2:
        return MovePlan((), by, note="fewer than two primaries take part: nothing to balance")
    costs = slot_costs(top, by, keys_in_slot)
    load = {n.node_id: sum(costs[s] for s in n.slots) for n in members}
    total = sum(load.values())
    weight = {n.node_id: float(weights.get(n.node_id, 1.0)) for n in members}
    if sum(weight.values()) <= 0:
        raise UsageError("the weights add up to 0: at least one primary must keep slots")
    if total <= 0:
        return MovePlan((), by, before=load, after=load, note=f"no {by} to balance")
    share = _shares(weight, total, by == "slots")
    off = {i: abs(load[i] - share[i]) / share[i] * 100 if share[i] else (100.0 if load[i] else 0.0) for i in load}
    if max(off.values()) <= threshold:
        worst = max(off, key=lambda i: off[i])
        return MovePlan(
            (),
            by,
            before=load,
            after=load,
            note=f"balanced: every primary within {threshold:g}% of its share (worst {off[worst]:.2f}%, {worst[:8]})",
        )
    donors = {i: load[i] - share[i] for i in load if load[i] - share[i] > 0}
    takers = {i: share[i] - load[i] for i in load if share[i] - load[i] > 0}
    transfers = _distribute(top, donors, takers, costs)
    return replace(_finish(transfers, by, load, costs), warnings=_emptied(top, weight))


def _emptied(top: Topology, weight: Mapping[str, float]) -> tuple[str, ...]:
    """Weight 0 leaves a primary with no slots: it stays a member and its replicas protect nothing."""
    found = []
    for node_id, w in weight.items():
        if w > 0:
            continue
        node = top.nodes[node_id]
        replicas = top.replicas_of(node_id)
        found.append(
            f"{node.short} keeps no slot (weight 0): it stays in the cluster as an empty primary"
            + (f" with {len(replicas)} replica(s) that protect nothing" if replicas else "")
            + f"; to take it out: rcdoctor remove-node {node_id[:8]} --from ADDR"
        )
    return tuple(found)


def reshard(
    top: Topology,
    sources: Sequence[str] | None,
    target: str,
    count: int,
) -> MovePlan:
    """Move `count` slots to `target`, from `sources` (None: every other primary) in proportion to what
    each holds, as `redis-cli --cluster reshard` does."""
    by_id = {n.node_id: n for n in top.primaries}
    if target not in by_id:
        raise UsageError(f"{target[:8]} is not a primary")
    ids = list(sources) if sources is not None else [i for i, n in by_id.items() if n.slots and i != target]
    if target in ids:
        raise UsageError("the target cannot also be a source")
    for node_id in ids:
        if node_id not in by_id:
            raise UsageError(f"source {node_id[:8]} is not a primary")
    available = sum(len(by_id[i].slots) for i in ids)
    if count > available:
        raise UsageError(f"the sources hold {available} slots; cannot move {count}")
    costs = [1.0] * SLOT_COUNT
    load = {n.node_id: float(len(n.slots)) for n in top.primaries}
    gives = _apportion({i: float(len(by_id[i].slots)) for i in ids}, count)
    transfers = _distribute(top, {i: float(g) for i, g in gives.items() if g}, {target: float(count)}, costs)
    return _finish(transfers, "slots", load, costs)


def drain(top: Topology, node_id: str, weights: Mapping[str, float] | None = None) -> MovePlan:
    """Every slot of `node_id` to the other primaries, filling those furthest below their share first."""
    by_id = {n.node_id: n for n in top.primaries}
    if node_id not in by_id:
        raise UsageError(f"{node_id[:8]} is not a primary")
    others = [n for n in top.primaries if n.node_id != node_id]
    if not others and by_id[node_id].slots:
        raise UsageError("it is the only primary: its slots have nowhere to go")
    costs = [1.0] * SLOT_COUNT
    load = {n.node_id: float(len(n.slots)) for n in top.primaries}
    given = float(len(by_id[node_id].slots))
    weight = {n.node_id: float((weights or {}).get(n.node_id, 1.0)) for n in others}
    share = _shares(weight, sum(load[n.node_id] for n in others) + given, True) if others else {}
    deficit = {i: max(0.0, share[i] - load[i]) for i in share}
    takers = _apportion(deficit if sum(deficit.values()) else weight, int(given))
    transfers = _distribute(top, {node_id: given}, {i: float(v) for i, v in takers.items() if v}, costs)
    return _finish(transfers, "slots", load, costs)


def _shares(weight: Mapping[str, float], total: float, whole: bool) -> dict[str, float]:
    if not whole:
        w = sum(weight.values())
        return {i: total * v / w for i, v in weight.items()}
    return {i: float(v) for i, v in _apportion(weight, int(total)).items()}


def _apportion(weight: Mapping[str, float], total: int) -> dict[str, int]:
    """Split `total` into whole parts proportional to `weight` (largest remainder; ties by id)."""
    w = sum(weight.values())
    if w <= 0:
        return dict.fromkeys(weight, 0)
    exact = {i: total * v / w for i, v in weight.items()}
    parts = {i: int(x) for i, x in exact.items()}
    left = total - sum(parts.values())
    for i in sorted(exact, key=lambda i: (-(exact[i] - parts[i]), i))[:left]:
        parts[i] += 1
    return parts


def _distribute(
    top: Topology, donors: Mapping[str, float], takers: Mapping[str, float], costs: Sequence[float]
) -> list[Transfer]:
    """Pair the biggest donors with the biggest takers; each donor gives from its highest slots down,
    so ranges stay contiguous."""
    remaining = {n.node_id: list(n.slots) for n in top.primaries if n.node_id in donors}
    give = dict(donors)
    need = dict(takers)
    moves: dict[tuple[str, str], list[int]] = {}
    for donor in sorted(give, key=lambda i: (-give[i], i)):
        for taker in sorted(need, key=lambda i: (-need[i], i)):
            if give[donor] <= 0:
                break
            if need[taker] <= 0:
                continue
            amount = min(give[donor], need[taker])
            taken = _take(remaining[donor], amount, costs)
            if not taken:
                continue
            moved = sum(costs[s] for s in taken)
            give[donor] -= moved
            need[taker] -= moved
            moves.setdefault((donor, taker), []).extend(taken)
    return [Transfer(s, t, tuple(sorted(v))) for (s, t), v in moves.items() if v]


def _take(slots: list[int], amount: float, costs: Sequence[float]) -> list[int]:
    """Pop slots off the end of `slots` while their cost fits `amount` (half a slot of overshoot allowed)."""
    taken: list[int] = []
    got = 0.0
    while slots and got < amount:
        cost = costs[slots[-1]]
        if got + cost > amount + cost / 2 and taken:
            break
        taken.append(slots.pop())
        got += cost
    return taken


def _finish(transfers: list[Transfer], by: str, load: Mapping[str, float], costs: Sequence[float]) -> MovePlan:
    after = dict(load)
    for t in transfers:
        moved = sum(costs[s] for s in t.slots)
        after[t.source] = after.get(t.source, 0.0) - moved
        after[t.target] = after.get(t.target, 0.0) + moved
    unit = "slots" if by == "slots" else by
    note = (
        f"{sum(len(t.slots) for t in transfers)} slots in {len(transfers)} transfers"
        if transfers
        else "nothing to move"
    )
    return MovePlan(tuple(transfers), by, before=dict(load), after=after, note=f"{note} (balanced by {unit})")


def node_named(top: Topology, text: str, what: str, check: Callable[[Node], bool] | None = None) -> Node:
    node = top.find(text)
    if node is None:
        raise UsageError(f"{what} {text!r} is not a node of this cluster (give an id, a unique id prefix or host:port)")
    if check is not None and not check(node):
        raise UsageError(f"{what} {text!r} ({node.short}) is not a primary")
    return node
