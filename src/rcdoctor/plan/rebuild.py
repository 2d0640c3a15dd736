"""Planning a rebuild, the seed's re-create done without losing data (behind --rebuild-from-keys).

When every answering node knows only itself, no cluster is left to rejoin: every nodes.conf was lost, or
someone ran the seed's `CLUSTER RESET` everywhere. Each node still holds its keys and (after a restart
without nodes.conf) claims the slots they hash to. The cluster is created again around those keys:

- nodes whose claims overlap hold the same shard; the one with the most keys becomes its primary and
  takes every slot of the shard (ADDSLOTS); no key moves;
- slots no node holds keys for are spread over the primaries; empty nodes become primaries while there
  are fewer than three, then replicas of the primary with the fewest, on another host where possible;
- distinct config epochs, then MEET the primaries and the empty nodes, then REPLICATE;
- the other nodes of each shard are stale copies of it. They stay out: once the primaries form a cluster
  that serves every slot, the next round's rejoin phase (rejoin.py) merges each into its primary
  (what only it holds copied over, what it holds differently kept in a salvage file) and only then
  empties it and makes it a replica.

Every step requires its node to be still alone, so a rebuild interrupted half-way is finished by the
ordinary phases (a lone node holding slots nobody serves is adopted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from rcdoctor.model.slots import SLOT_COUNT
from rcdoctor.model.snapshot import NodeSample
from rcdoctor.model.view import ClusterView, components
from rcdoctor.plan.addresses import meet_command
from rcdoctor.plan.conditions import Alone
from rcdoctor.plan.rejoin import fewest_followers, lone, member, replicate, slot_set
from rcdoctor.plan.slots import addslots, share_out
from rcdoctor.plan.steps import REBUILD, Facts, Flags, Step

MIN_PRIMARIES = 3


@dataclass(frozen=True)
class RebuiltShard:
    primary: str
    copies: tuple[str, ...]
    slots: tuple[int, ...]  # every slot any of its nodes claims


def applies(ctx: ClusterView) -> bool:
    return len(ctx.viewers) >= 2 and member(ctx) is None and len(lone(ctx)) == len(ctx.viewers)


def shards(ctx: ClusterView) -> list[RebuiltShard]:
    """Nodes grouped by overlapping claims; in each, the node with the most keys is the primary."""
    nodes = {s.node_id: s for s in lone(ctx) if s.node_id and s.myself is not None and s.myself.slots}
    claims = {i: slot_set(s.myself.slots) for i, s in nodes.items() if s.myself is not None}
    first_claim: dict[int, str] = {}
    links = []
    for node_id, slots in sorted(claims.items()):
        for slot in slots:
            other = first_claim.setdefault(slot, node_id)
            if other != node_id:
                links.append((other, node_id))
    found = []
    for group in components(sorted(claims), links):
        ranked = sorted(group, key=lambda i: (-(nodes[i].keys or 0), -_offset(nodes[i]), i))
        union = sorted(set().union(*(claims[i] for i in group)))
        found.append(RebuiltShard(ranked[0], tuple(ranked[1:]), tuple(union)))
    return sorted(found, key=lambda s: s.slots[0])


def rebuild(ctx: ClusterView, facts: Facts, flags: Flags, blocked: list[str]) -> list[Step]:
    if not applies(ctx):
        return []
    groups = shards(ctx)
    holders = sum(1 + len(s.copies) for s in groups)
    if not groups:
        blocked.append(
            f"every node knows only itself and none holds keys ({len(ctx.viewers)} nodes): nothing to rebuild "
            "from; `rcdoctor create` them"
        )
        return []
    if not flags.rebuild:
        blocked.append(
            f"every node knows only itself: no cluster is left ({len(ctx.viewers)} nodes, {holders} holding "
            f"keys of {len(groups)} shard(s)). {REBUILD} creates it again around their keys: each slot to the node "
            "holding its keys, copies merged into their primary before they are emptied (M006)"
        )
        return []
    samples = {s.node_id: s for s in ctx.viewers if s.node_id}
    empty = sorted(i for i, s in samples.items() if not (s.myself and s.myself.slots) and not s.keys)
    strange = sorted(i for i, s in samples.items() if not (s.myself and s.myself.slots) and s.keys)
    if strange:
        blocked.append(
            f"{', '.join(samples[i].address for i in strange)} hold keys but claim no slots: "
            "rebuild them by hand or empty them first"
        )
        return []
    primaries = [s.primary for s in groups]
    while len(primaries) < MIN_PRIMARIES and empty:
        primaries.append(empty.pop(0))
    steps: list[Step] = []
    claimed = {s for shard in groups for s in shard.slots}
    keyless = [s for s in range(SLOT_COUNT) if s not in claimed]
    extra = share_out(keyless, primaries, Counter({s.primary: len(s.slots) for s in groups}))
    for primary in primaries:
        shard = next((s for s in groups if s.primary == primary), None)
        mine = samples[primary].myself
        own = slot_set(mine.slots) if mine else set()
        wanted = sorted((set(shard.slots) - own if shard else set()) | set(extra.get(primary, [])))
        if wanted:
            step = addslots(ctx, primary, wanted, "its shard's slots and a share of the slots no node holds keys for")
            steps.append(_alone(step, samples[primary]))
    top = max((e.config_epoch for s in ctx.viewers for e in s.view.value), default=0)
    fresh = [p for p in primaries if (m := samples[p].myself) is not None and m.config_epoch == 0]
    for index, primary in enumerate(fresh, 1):  # SET-CONFIG-EPOCH refuses a node whose epoch is not 0
        steps.append(
            _alone(
                Step(
                    samples[primary].address,
                    ("CLUSTER", "SET-CONFIG-EPOCH", str(top + index)),
                    "distinct config epochs, so no two primaries start with the same one",
                    ("M006",),
                ),
                samples[primary],
            )
        )
    hub = samples[primaries[0]]
    waiting = sum(len(s.copies) for s in groups)
    for node_id in [*primaries[1:], *empty]:
        sample = samples[node_id]
        why = "join the rebuilt cluster" + (
            f" (the {waiting} stale copies rejoin in the next phase, merged into their primary first)"
            if waiting
            else ""
        )
        steps.append(
            _alone(Step(hub.address, meet_command(sample.address, sample.bus_port_number), why, ("M006",)), sample)
        )
    count = {p: 0 for p in primaries} | {s.primary: len(s.copies) for s in groups}
    for node_id in empty:  # the copies will follow their own shard's primary (next round)
        primary = fewest_followers(ctx, node_id, count)
        count[primary] += 1
        steps.append(replicate(samples[node_id], primary, f"replicate {samples[primary].address}"))
    return steps


def _alone(step: Step, sample: NodeSample) -> Step:
    assert sample.node_id is not None
    return replace(step, expect=(Alone(sample.address, sample.node_id),))


def _offset(sample: NodeSample) -> int:
    value = sample.info.get("replication", {}).get("master_repl_offset", "0")
    return int(value) if value.isdigit() else 0
