"""The chaos generator (pure): faults as data, drawn from a seed, replayable round by round.

A round is drawn from `random.Random(f"{seed}/{index}")` alone, so `--seed S --round I` replays round I
without the rounds before it. Targets are abstract ("the primary of shard 2", "a replica of shard 0"),
resolved against the lab's shape when the round starts: roles move between rounds (failovers), names
do not matter, the shape of the damage does.

Combinations never take both copies of one shard at once (no kill of a primary and its replica, no lost
volume on both): such a round loses data by construction and says nothing about rcdoctor. Whole-cluster
faults (every pod at a new address) combine only with faults that touch no node (a migration left open,
an interrupted run of rcdoctor).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# name -> what it does, for --faults and the docs
CATALOGUE: Mapping[str, str] = {
    "kill": "SIGKILL a primary or a replica; it is restarted after a hold (a pod that crashed and came back)",
    "pause": "SIGSTOP a primary or a replica for a hold, then SIGCONT (a node stuck on disk or CPU)",
    "partition": "cut one primary off from every other node for a hold (packets dropped; root and nftables)",
    "new-address": "restart one, some or all nodes at new IPs with their data and nodes.conf (pods moved)",
    "lose-nodes-conf": "restart one node without its nodes.conf: a new id, its data kept",
    "lose-volume": "restart one node with an empty data directory: a new id, no data (a lost PVC; a primary's "
    "pod stays away until its replica has taken over)",
    "half-migrate": "leave a slot MIGRATING/IMPORTING with some keys moved (a migration interrupted)",
    "interrupt-reshard": "SIGTERM or SIGINT `rcdoctor reshard --apply` mid-run (slots in flight)",
    "interrupt-heal": "SIGTERM or SIGINT the first `rcdoctor heal --apply` of the round mid-run",
}
NEEDS_NETWORK = frozenset({"partition"})  # needs root and nft: left out where the machine has neither
ON_NODES = frozenset({"kill", "pause", "partition", "new-address", "lose-nodes-conf", "lose-volume"})
LEAVES_WORK = frozenset({"new-address", "lose-nodes-conf", "lose-volume", "half-migrate", "interrupt-reshard"})
SIGNALS = ("TERM", "INT")


@dataclass(frozen=True)
class Shape:
    """The lab as a round finds it: shard k is (primary name, replica names), shards in a fixed order."""

    shards: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(n for primary, replicas in self.shards for n in (primary, *replicas))


@dataclass(frozen=True)
class Fault:
    """One drawn fault. `shard`/`role`/`scope` are abstract targets; `params` holds its other choices."""

    kind: str
    shard: int | None = None
    role: str | None = None  # "primary" | "replica"
    scope: str | None = None  # new-address: "one" | "some" | "all"
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("shard", "role", "scope"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.params:
            out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class RoundPlan:
    seed: int
    index: int
    faults: tuple[Fault, ...]
    hold_s: float  # how long kill/pause/partition last before the infrastructure undoes them

    def to_dict(self) -> dict[str, Any]:
        return {"faults": [f.to_dict() for f in self.faults], "hold_s": self.hold_s}


def draw(
    seed: int, index: int, shards: int, kinds: Iterable[str], node_timeout_ms: int, combine: float = 0.4
) -> RoundPlan:
    """Round `index` of rehearsal `seed` for a lab of `shards` shards (each with at least one replica)."""
    allowed = sorted(set(kinds) & set(CATALOGUE))
    if not allowed:
        raise ValueError("no fault kind to draw from")
    if shards < 2:
        raise ValueError("the chaos rehearsal needs at least 2 shards")
    rng = random.Random(f"{seed}/{index}")
    first_kinds = [k for k in allowed if k != "interrupt-heal"] or allowed
    faults = [_one(rng, rng.choice(first_kinds), shards, node_timeout_ms)]
    if rng.random() < combine:
        candidates = [k for k in allowed if k != "interrupt-heal"]
        rng.shuffle(candidates)
        for kind in candidates:
            second = _one(rng, kind, shards, node_timeout_ms)
            if compatible(faults, second):
                faults.append(second)
                break
    # Drawn whether used or not, so the hold below does not depend on what was combined
    interrupt = rng.random() < 0.35
    if interrupt and "interrupt-heal" in allowed and any(f.kind in LEAVES_WORK for f in faults):
        faults.append(_one(rng, "interrupt-heal", shards, node_timeout_ms))
    hold = round(rng.uniform(0.5, 3.0) * node_timeout_ms / 1000, 2)
    return RoundPlan(seed, index, tuple(faults), hold)


def _one(rng: random.Random, kind: str, shards: int, node_timeout_ms: int) -> Fault:
    shard = rng.randrange(shards)
    if kind in ("kill", "pause"):
        return Fault(kind, shard, rng.choice(("primary", "replica")))
    if kind == "partition":
        return Fault(kind, shard, "primary")
    if kind in ("lose-nodes-conf", "lose-volume"):
        return Fault(kind, shard, rng.choice(("primary", "replica")))
    if kind == "new-address":
        scope = rng.choice(("one", "some", "all"))
        return Fault(
            kind,
            shard if scope == "one" else None,
            rng.choice(("primary", "replica")) if scope == "one" else None,
            scope,
        )
    if kind == "half-migrate":
        return Fault(
            kind,
            shard,
            params={
                "to_shard": (shard + 1 + rng.randrange(shards - 1)) % shards,
                "keys": rng.randint(1, 8),
                "pick": rng.random(),
            },
        )
    if kind == "interrupt-reshard":
        to = (shard + 1 + rng.randrange(shards - 1)) % shards
        return Fault(
            kind,
            shard,
            params={
                "to_shard": to,
                "slots": rng.choice((300, 600, 1000)),
                "signal": rng.choice(SIGNALS),
                "after_s": round(rng.uniform(0.2, 1.5), 2),
            },
        )
    if kind == "interrupt-heal":
        return Fault(kind, params={"signal": rng.choice(SIGNALS), "after_s": round(rng.uniform(0.1, 2.0), 2)})
    raise ValueError(f"unknown fault kind {kind!r}")


def compatible(drawn: Sequence[Fault], extra: Fault) -> bool:
    """May `extra` join `drawn` in one round? Never two node faults on one shard (one copy always
    survives), never a whole-cluster move with another node fault, one interrupted run per round."""
    for fault in drawn:
        if fault.kind == extra.kind and fault.kind in ("interrupt-reshard", "interrupt-heal", "partition"):
            return False
        if fault.kind in ON_NODES and extra.kind in ON_NODES:
            if (fault.scope in ("some", "all")) or (extra.scope in ("some", "all")):
                return False
            if fault.shard == extra.shard:
                return False
        if {fault.kind, extra.kind} == {"half-migrate", "interrupt-reshard"}:
            return False  # two open-slot makers on one small lab make the same slots; one at a time
    return True


def resolve(fault: Fault, shape: Shape) -> tuple[str, ...]:
    """The node names an abstract fault acts on, in this shape (empty for faults on no node)."""
    if fault.kind == "new-address" and fault.scope == "all":
        return shape.nodes
    if fault.kind == "new-address" and fault.scope == "some":
        # One node of every other shard: several pods moved at once, no shard left without a copy
        return tuple(_member(shape, k, "primary" if k % 2 == 0 else "replica") for k in range(0, len(shape.shards), 2))
    if fault.shard is None or fault.kind in ("half-migrate", "interrupt-reshard", "interrupt-heal"):
        return ()
    return (_member(shape, fault.shard % len(shape.shards), fault.role or "primary"),)


def _member(shape: Shape, shard: int, role: str) -> str:
    primary, replicas = shape.shards[shard]
    if role == "replica" and replicas:
        return replicas[0]
    return primary


def parse_kinds(text: str | None, network: bool) -> tuple[str, ...]:
    """--faults K,K,… (default: the whole catalogue, without network faults where they cannot run)."""
    if text is None:
        return tuple(k for k in CATALOGUE if network or k not in NEEDS_NETWORK)
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in CATALOGUE]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {', '.join(unknown)} (known: {', '.join(CATALOGUE)})")
    if not kinds:
        raise ValueError("--faults names no fault kind")
    if kinds == ("interrupt-heal",):
        raise ValueError("interrupt-heal needs a fault that leaves something to heal; add one (e.g. new-address)")
    return kinds
