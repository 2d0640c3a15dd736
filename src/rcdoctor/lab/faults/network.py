"""Network faults: partitions between groups of nodes (and clients), with packets really dropped.

One network fault at a time per lab: a new partition replaces the previous rules; its undo (and `heal`)
restores full connectivity. Extra IPs (clients) join a side with params {"with": [ip…]} (the targets'
side) and {"against": [ip…]} (the other side).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rcdoctor.errors import FaultError
from rcdoctor.lab import network
from rcdoctor.lab.faults.base import FaultOp, register, resolve_targets

if TYPE_CHECKING:
    from rcdoctor.lab.cluster import Lab
    from rcdoctor.lab.state import LabNode

Outcome = tuple[FaultOp | None, dict[str, Any]]
HEAL = FaultOp("heal-network")


def _ips(values: Any) -> set[str]:
    if values is None:
        return set()
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    return {str(v).strip() for v in values}


def _sides(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    inside = {n.ip for n in nodes} | _ips(params.get("with"))
    outside = {n.ip for n in lab.nodes if n not in nodes} | _ips(params.get("against"))
    if not inside or not outside - inside:
        raise FaultError("a partition needs nodes on both sides")
    return inside, outside - inside


@register(
    "partition",
    "cut the targets (plus client IPs in params.with) off from every other node (and params.against): "
    "packets dropped both ways, as across a real network partition",
)
def partition(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    inside, outside = _sides(lab, nodes, params)
    network.install(lab.state.root, network.cuts_between([inside, outside]))
    return HEAL, {"sides": [sorted(inside), sorted(outside)]}


@register(
    "partition-oneway",
    "drop only what the targets send to the other nodes (they still receive): an asymmetric link failure",
)
def partition_oneway(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    inside, outside = _sides(lab, nodes, params)
    network.install(lab.state.root, [(frozenset(inside), frozenset(outside))])
    return HEAL, {"dropped": {"from": sorted(inside), "to": sorted(outside)}}


@register(
    "split",
    'several groups that see only their own members: params {"groups": [["n1","n2"], ["n3", …], …]} '
    "(nodes left out form one more group)",
    needs_targets=False,
)
def split(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    raw = params.get("groups")
    if not isinstance(raw, list) or len(raw) < 1:
        raise FaultError('split needs params {"groups": [["n1", "n2"], ["n3", …]]}')
    groups: list[set[str]] = []
    placed: set[str] = set()
    for group in raw:
        members = resolve_targets(lab, tuple(group) if isinstance(group, list) else str(group))
        ips = {n.ip for n in members}
        if ips & placed:
            raise FaultError("a node is in two groups of the split")
        placed |= ips
        groups.append(ips)
    rest = {n.ip for n in lab.nodes} - placed
    if rest:
        groups.append(rest)
    if len(groups) < 2:
        raise FaultError("a split needs at least two groups")
    network.install(lab.state.root, network.cuts_between(groups))
    return HEAL, {"groups": [sorted(g) for g in groups]}


@register(
    "bridge",
    "two halves that cannot reach each other, both still reaching the targets (the bridge), as Jepsen's "
    'bridge: params {"half": ["n1", …]} (default: the first half of the other nodes)',
)
def bridge(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    others = [n for n in lab.nodes if n not in nodes]
    wanted = params.get("half")
    if wanted:
        half = {n.ip for n in resolve_targets(lab, tuple(wanted))} - {n.ip for n in nodes}
    else:
        half = {n.ip for n in others[: len(others) // 2]}
    rest = {n.ip for n in others} - half
    if not half or not rest:
        raise FaultError("a bridge needs nodes on both halves")
    network.install(lab.state.root, network.cuts_between([half, rest]))
    return HEAL, {"halves": [sorted(half), sorted(rest)], "bridge": sorted(n.ip for n in nodes)}


@register("heal-network", "restore full connectivity (the undo of every network fault)", needs_targets=False)
def heal_network(lab: Lab, nodes: list[LabNode], params: Mapping[str, Any]) -> Outcome:
    network.remove(lab.state.root)
    if network.active(lab.state.root):
        raise FaultError("the partition rules could not be removed (nft delete table failed)")
    return None, {}
