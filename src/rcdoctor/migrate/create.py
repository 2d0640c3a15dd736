"""Building a cluster from empty nodes: check them, then slots, epochs, MEET, REPLICATE, wait until ok.

The order matters. Slots and distinct config epochs are set while each node still knows only itself
(SET-CONFIG-EPOCH is refused afterwards), so no two primaries start with the same epoch and no epoch
collision has to be resolved by gossip. Every node then MEETs the first one; gossip spreads the rest.
Replicas REPLICATE only once they list their primary (before that the id is unknown to them).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rcdoctor.errors import ConnectError, DoctorError, UsageError
from rcdoctor.execute.journal import Journal
from rcdoctor.migrate.membership import EmptyNode, read_empty, run_steps, step, wait_until_all
from rcdoctor.model.address import Endpoint, parse_hostport
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.plan.placement import CreatePlan, Member
from rcdoctor.plan.steps import Step
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.ports import meet_ip
from rcdoctor.transport.redis_py import NodeClient

FORMAT = "rcdoctor.create"
VERSION = 1


def read_all(addresses: list[str], options: ConnectOptions) -> dict[str, EmptyNode]:
    """Every node probed at once; one error naming every node that cannot be used (unreachable ones first)."""
    endpoints = [parse_hostport(a) for a in addresses]
    with ThreadPoolExecutor(max_workers=min(32, len(endpoints))) as pool:
        results = list(pool.map(lambda e: _read_or_error(e, options), endpoints))
    errors = [(a, r) for a, r in zip(addresses, results, strict=True) if isinstance(r, DoctorError)]
    if errors:
        # Connection problems first (exit 2); the rest only named, so the error stays one readable line.
        errors.sort(key=lambda e: not isinstance(e[1], ConnectError))
        first = errors[0][1]
        others = ", ".join(a for a, _ in errors[1:])
        raise type(first)(f"{first}" + (f" (also refused: {others})" if others else ""))
    nodes = {a: r for a, r in zip(addresses, results, strict=True) if isinstance(r, EmptyNode)}
    ids: dict[str, str] = {}
    for address, node in nodes.items():
        if node.node_id in ids:
            raise UsageError(f"{address} and {ids[node.node_id]} are the same node ({node.node_id[:8]})")
        ids[node.node_id] = address
    return nodes


def _read_or_error(endpoint: Endpoint, options: ConnectOptions) -> EmptyNode | DoctorError:
    try:
        return read_empty(endpoint, options)
    except DoctorError as exc:
        return exc


def create_steps(plan: CreatePlan, nodes: dict[str, EmptyNode]) -> tuple[list[Step], list[Step], list[Step]]:
    """(slots and epochs, MEETs, REPLICATEs): the three phases, with waits between them."""
    setup: list[Step] = []
    for shard in plan.shards:
        node = nodes[shard.primary.address]
        first, last = shard.slots.start, shard.slots.end
        if node.identity.at_least(redis=(7, 0)):
            command: tuple[str, ...] = ("CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
        else:
            command = ("CLUSTER", "ADDSLOTS", *(str(s) for s in range(first, last + 1)))
        setup.append(step(shard.primary.address, command, f"own slots {shard.slots}"))
    ordered = [m.address for s in plan.shards for m in s.members]
    for epoch, address in enumerate(ordered, 1):
        setup.append(step(address, ("CLUSTER", "SET-CONFIG-EPOCH", str(epoch)), "a distinct config epoch"))
    anchor = nodes[ordered[0]]
    ip = meet_ip(anchor.endpoint.host)
    meet = ["CLUSTER", "MEET", ip, str(anchor.endpoint.port)]
    if anchor.bus_port != anchor.endpoint.port + 10000:
        meet.append(str(anchor.bus_port))  # Redis 7+: a bus port off the default offset must be named
    meets = [step(a, tuple(meet), f"meet {ordered[0]}") for a in ordered[1:]]
    replicate = [
        step(r.address, ("CLUSTER", "REPLICATE", nodes[s.primary.address].node_id), f"replicate {s.primary.address}")
        for s in plan.shards
        for r in s.replicas
    ]
    return setup, meets, replicate


def apply(
    plan: CreatePlan,
    nodes: dict[str, EmptyNode],
    options: ConnectOptions,
    log: Callable[[str], None],
    journal: Journal,
    timeout: float = 60.0,
) -> None:
    setup, meets, replicate = create_steps(plan, nodes)
    endpoints = [n.endpoint for n in nodes.values()]
    run_steps(setup, options, log, journal, "create: slots and epochs")
    log(f"slots assigned to {len(plan.shards)} primaries, {len(nodes)} distinct config epochs set")
    run_steps(meets, options, log, journal, "create: meet")
    wait_until_all(endpoints, lambda c: _lists_all(c, len(nodes)), options, timeout, "to know every other node")
    log(f"every node knows all {len(nodes)} nodes")
    run_steps(replicate, options, log, journal, "create: replicas")
    log(f"{len(replicate)} replicas attached")
    expected = {nodes[m.address].node_id: nodes[s.primary.address].node_id for s in plan.shards for m in s.replicas}
    wait_until_all(
        endpoints,
        lambda c: _ready(c, expected),
        options,
        timeout,
        "to report cluster_state:ok, list every replica under its primary and have replicas in sync",
    )
    log("cluster_state:ok on every node, every view lists every replica under its primary, replicas in sync")


def _lists_all(c: NodeClient, count: int) -> bool:
    view = parse_cluster_nodes(str(c.execute_command("CLUSTER", "NODES")))
    return not view.errors and len(view.value) == count and not any("handshake" in e.flags for e in view.value)


def _ready(c: NodeClient, replica_of: dict[str, str]) -> bool:
    """ok, in sync, and this node's view has the roles right (a client refreshing from it sees them)."""
    if "cluster_state:ok" not in str(c.execute_command("CLUSTER", "INFO")):
        return False
    view = {e.id: e for e in parse_cluster_nodes(str(c.execute_command("CLUSTER", "NODES"))).value}
    for replica, primary in replica_of.items():
        entry = view.get(replica)
        if entry is None or not entry.is_replica or entry.primary_id != primary:
            return False
    replication = c.info("replication")
    return bool(replication.get("role") != "slave" or replication.get("master_link_status") == "up")


def to_dict(plan: CreatePlan, nodes: dict[str, EmptyNode], applied: bool) -> dict[str, Any]:
    """The create document (`--format json`): shards with their members' addresses, ids and domains."""

    def member(m: Member) -> dict[str, Any]:
        return {"address": m.address, "id": nodes[m.address].node_id, "domain": m.domain}

    return {
        "format": FORMAT,
        "version": VERSION,
        "applied": applied,
        "shards": [
            {
                "slots": {"start": s.slots.start, "end": s.slots.end},
                "primary": member(s.primary),
                "replicas": [member(r) for r in s.replicas],
            }
            for s in plan.shards
        ],
        "warnings": list(plan.warnings),
    }
