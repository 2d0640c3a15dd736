"""Where each node goes when a cluster is created: which are primaries, whose replica each other one is.

Pure: (addresses with their failure domains, replicas per primary) -> CreatePlan.

The aim is that losing one failure domain (a host, a Kubernetes node, a zone) never takes a shard with
it and, where the domains allow, never takes half of the primaries (then no failover can be authorized).
Nodes are sorted by domain, largest domain first, and dealt round-robin to the shards: a domain with
no more nodes than there are shards then never lands twice in one shard, which is the best any placement
can do (a bigger domain must share a shard somewhere, and the plan says where). Each shard's primary is
chosen so that no domain holds more primaries than the layout forces (a small matching problem).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rcdoctor.errors import UsageError
from rcdoctor.model.slots import SLOT_COUNT, SlotRange

MIN_PRIMARIES = 3  # fewer cannot elect a replica after a primary fails (a majority of primaries votes)


@dataclass(frozen=True)
class Member:
    address: str
    domain: str


@dataclass(frozen=True)
class PlannedShard:
    primary: Member
    replicas: tuple[Member, ...]
    slots: SlotRange

    @property
    def members(self) -> tuple[Member, ...]:
        return (self.primary, *self.replicas)


@dataclass(frozen=True)
class CreatePlan:
    shards: tuple[PlannedShard, ...]
    warnings: tuple[str, ...]

    @property
    def primaries(self) -> tuple[Member, ...]:
        return tuple(s.primary for s in self.shards)


def plan_create(members: list[Member], replicas: int) -> CreatePlan:
    """Primaries, replicas and slot ranges for `members`; extra nodes become extra replicas."""
    if replicas < 0:
        raise UsageError("--replicas must be 0 or more")
    addresses = [m.address for m in members]
    repeated = sorted(a for a, n in Counter(addresses).items() if n > 1)
    if repeated:
        raise UsageError(f"address given more than once: {', '.join(repeated)}")
    count = len(members) // (replicas + 1)
    if count < MIN_PRIMARIES:
        raise UsageError(
            f"{len(members)} nodes with --replicas {replicas} make {count} primaries; a cluster needs at least "
            f"{MIN_PRIMARIES} ({MIN_PRIMARIES * (replicas + 1)} nodes) so that a majority can fail a primary over"
        )
    groups = _place(members, count)
    primaries = [g[0] for g in groups]
    ranges = split_slots(count)
    shards = tuple(
        PlannedShard(primary, tuple(m for m in group if m != primary), ranges[i])
        for i, (group, primary) in enumerate(zip(groups, primaries, strict=True))
    )
    return CreatePlan(shards, tuple(_warnings(shards, members)))


def split_slots(count: int) -> list[SlotRange]:
    """16384 slots in `count` contiguous ranges, the first ones one slot larger when it does not divide."""
    size, extra = divmod(SLOT_COUNT, count)
    ranges, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0) - 1
        ranges.append(SlotRange(start, end))
        start = end + 1
    return ranges


def _place(members: list[Member], count: int) -> list[list[Member]]:
    """`count` groups, primary first: primaries spread over domains, then replicas by max flow."""
    remaining = {d: [m for m in members if m.domain == d] for d in dict.fromkeys(m.domain for m in members)}
    held: Counter[str] = Counter()
    groups: list[list[Member]] = []
    for _ in range(count):
        # The domain with the fewest primaries so far; among those the one with the most nodes left, so
        # that big domains (which can hold only one copy per shard) shrink first.
        domain = min((d for d in remaining if remaining[d]), key=lambda d: (held[d], -len(remaining[d])))
        groups.append([remaining[domain].pop(0)])
        held[domain] += 1
    size, extra = divmod(sum(len(v) for v in remaining.values()), count)
    supply = {d: len(v) for d, v in remaining.items() if v}
    for domain, shard in _max_flow(supply, groups, size, extra):
        groups[shard].append(remaining[domain].pop(0))
    for domain, left in remaining.items():  # only when a domain has more nodes than there are shards
        for member in left:
            short = [i for i in range(count) if len(groups[i]) - 1 < size]
            short = short or [i for i in range(count) if len(groups[i]) - 1 == size]  # room for the extras
            shard = min(short, key=lambda i: (sum(m.domain == domain for m in groups[i]), len(groups[i]), i))
            groups[shard].append(member)
    return groups


def _max_flow(supply: dict[str, int], groups: list[list[Member]], size: int, extra: int) -> list[tuple[str, int]]:
    """(domain, shard) for each replica placed: at most one per domain per shard, none in the primary's.

    Max flow source -> domain (its spare nodes) -> shard (1 if allowed) -> sink, by shortest augmenting
    paths (Edmonds-Karp; the graph is domains x shards, small). Each shard reaches the sink through an
    edge of capacity `size` and one of capacity 1 through a shared node of capacity `extra`: a flow that
    places every node then saturates the `size` edges, so every shard gets `size` or `size` + 1 replicas.
    """
    source, sink, spill = ("s",), ("t",), ("x",)
    capacity: dict[tuple[object, object], int] = {}
    for domain, count in supply.items():
        capacity[(source, domain)] = count
        for shard, group in enumerate(groups):
            if all(m.domain != domain for m in group):
                capacity[(domain, shard)] = 1
    for shard in range(len(groups)):
        capacity[(shard, sink)] = size
        capacity[(shard, spill)] = 1
    capacity[(spill, sink)] = extra
    neighbours: dict[object, list[object]] = {}  # both directions: the residual graph
    for a, b in list(capacity):
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
        capacity.setdefault((b, a), 0)
    while True:
        parent: dict[object, object] = {source: source}
        queue: list[object] = [source]
        for here in queue:
            for there in neighbours.get(here, []):
                if there not in parent and capacity[(here, there)] > 0:
                    parent[there] = here
                    queue.append(there)
        if sink not in parent:
            break
        node: object = sink
        while node != source:  # every edge has capacity >= 1 and the bottleneck of a unit edge is 1
            back = parent[node]
            capacity[(back, node)] -= 1
            capacity[(node, back)] += 1
            node = back
    return [
        (domain, shard)
        for domain in supply
        for shard in range(len(groups))
        if (domain, shard) in capacity and capacity[(shard, domain)] > 0
    ]


def _warnings(shards: tuple[PlannedShard, ...], members: list[Member]) -> list[str]:
    warnings = []
    for number, shard in enumerate(shards, 1):
        shared = [d for d, n in Counter(m.domain for m in shard.members).items() if n > 1]
        for domain in shared:
            together = [m.address for m in shard.members if m.domain == domain]
            lost = "the whole shard" if len(together) == len(shard.members) else f"{len(together)} of its copies"
            names = ", ".join(together)
            warnings.append(f"shard {number}: {names} share failure domain {domain}: losing it loses {lost}")
    held = Counter(s.primary.domain for s in shards)
    domain, most = held.most_common(1)[0]
    if 2 * most >= len(shards):
        in_domains = len({m.domain for m in members})
        why = "" if in_domains > 2 else f" (only {in_domains} failure domain(s) given)"
        warnings.append(
            f"failure domain {domain} holds {most} of {len(shards)} primaries: losing it leaves too few primaries "
            f"to authorize a failover{why}"
        )
    return warnings
