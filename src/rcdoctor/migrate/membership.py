"""Adding a node to a cluster and removing one, as steps that print before they run.

add-node: the new node must be empty (no keys, no slots, knows no one); it MEETs a member, rcdoctor waits
until every member lists it, then (for a replica) it REPLICATEs its primary.
remove-node: its slots are drained first by the migration engine, its replicas re-pointed to the primary
with the fewest replicas, then every other node FORGETs it within one second (inside the 60 s blacklist
window, so gossip cannot bring it back) and the node itself is reset (CLUSTER RESET SOFT) so it stops
gossiping the old cluster. A node that does not answer is only forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rcdoctor.errors import DoctorError, UsageError
from rcdoctor.execute.journal import Journal, default_dir
from rcdoctor.execute.steps import attempt, journaled
from rcdoctor.model.address import Endpoint
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.info import as_int, parse_kv
from rcdoctor.model.server import ServerIdentity, server_identity
from rcdoctor.plan.steps import Step
from rcdoctor.plan.topology import Node, Topology
from rcdoctor.transport.errors import TransportError, classify, error_for
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import NodeClient, node_client


def step(node: str, command: tuple[str, ...], why: str) -> Step:
    """A membership change is a plan step like any other (run by execute.steps, journaled): it answers no
    finding and cannot lose data."""
    return Step(node, command, why, answers=())


def line(step: Step) -> str:
    return f"{step.describe()}  — {step.why}"


@dataclass(frozen=True)
class EmptyNode:
    endpoint: Endpoint
    node_id: str
    identity: ServerIdentity
    bus_port: int


def read_empty(endpoint: Endpoint, options: ConnectOptions) -> EmptyNode:
    """A node fit to join or form a cluster: cluster-enabled, no keys, no slots, knowing no other node."""
    try:
        with node_client(endpoint, options) as c:
            info = str(c.execute_command("CLUSTER", "INFO"))
            view = parse_cluster_nodes(str(c.execute_command("CLUSTER", "NODES"))).value
            keys = int(c.dbsize())
            node_id = str(c.execute_command("CLUSTER", "MYID"))
            server = {str(k): str(v) for k, v in c.info("server").items()}
    except (TransportError, OSError) as exc:
        error = classify(exc)
        raise error_for(error.kind, f"{endpoint}: {error.message}") from None
    if keys:
        raise UsageError(f"{endpoint} holds {keys} keys: only an empty node can join (nothing is deleted for you)")
    if len(view) > 1 or "cluster_slots_assigned:0" not in info:
        raise UsageError(
            f"{endpoint} already knows {len(view) - 1} other node(s) or owns slots: it is part of a cluster "
            "(CLUSTER RESET SOFT on it first if that is a leftover)"
        )
    myself = next((e for e in view if e.is_myself), view[0] if view else None)
    bus_port = myself.cport if myself is not None and myself.cport else endpoint.port + 10000
    # A reply naming no version is treated as the oldest Redis: plain ADDSLOTS works everywhere.
    identity = server_identity(server) or ServerIdentity("redis", "0")
    return EmptyNode(endpoint, node_id, identity, bus_port)


def add_steps(new: Endpoint, seed: Node, replica_of: Node | None) -> list[Step]:
    steps = [step(str(new), ("CLUSTER", "MEET", seed.endpoint.host, str(seed.endpoint.port)), "join the cluster")]
    if replica_of is not None:
        steps.append(step(str(new), ("CLUSTER", "REPLICATE", replica_of.node_id), f"replicate {replica_of.short}"))
    return steps


def remove_steps(top: Topology, node: Node, reachable: bool) -> list[Step]:
    """Re-point replicas, FORGET everywhere, reset the node (the drain is planned separately)."""
    steps: list[Step] = []
    others = [p for p in top.primaries if p.node_id != node.node_id]
    replicas = top.replicas_of(node.node_id)  # a drained primary may have just turned replica itself
    load = {p.node_id: len(top.replicas_of(p.node_id)) for p in others if p.slots}
    for replica in replicas:
        if not load:
            raise UsageError(f"{replica.short} replicates {node.short} and no other primary with slots can take it")
        new_primary = min(load, key=lambda i: (load[i], i))
        load[new_primary] += 1
        steps.append(step(replica.address, ("CLUSTER", "REPLICATE", new_primary), f"re-point off {node.node_id[:8]}"))
    for other in top.nodes.values():
        if other.node_id != node.node_id:
            steps.append(step(other.address, ("CLUSTER", "FORGET", node.node_id), "forget the removed node"))
    if reachable:
        steps.append(step(node.address, ("CLUSTER", "RESET", "SOFT"), "stop it gossiping the old cluster"))
    return steps


def run_steps(
    steps: list[Step], options: ConnectOptions, log: Callable[[str], None], journal: Journal, phase: str
) -> None:
    """Run the steps through the one executor, each journaled under `phase`; FORGETs go out in parallel so
    all land inside the blacklist window (one that fails is reported, the others still count)."""
    forgets = [s for s in steps if s.command[:2] == ("CLUSTER", "FORGET")]
    before = [s for s in steps if s not in forgets and s.command[:2] != ("CLUSTER", "RESET")]
    after = [s for s in steps if s.command[:2] == ("CLUSTER", "RESET")]
    keep = journal.path.parent if journal.path is not None else default_dir()
    for one in before:
        _one(one, options, log, journal, phase, keep)
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda s: attempt(s, options, keep), forgets))
    for one, (status, detail) in zip(forgets, results, strict=True):
        journal.write("step", phase=phase, step=one.describe(), status=status, detail=detail)
        log(f"{'ok ' if status == 'ok' else status}  {line(one)}{': ' + detail if detail else ''}")
    for one in after:
        _one(one, options, log, journal, phase, keep)


def _one(
    one: Step, options: ConnectOptions, log: Callable[[str], None], journal: Journal, phase: str, keep: Path
) -> None:
    status, detail = journaled(one, phase, options, journal, keep)
    if status == "failed":
        raise DoctorError(f"{line(one)}: {detail}")
    log(f"{status}  {line(one)}{' (' + detail + ')' if detail else ''}")


def wait_known(top: Topology, node_id: str, options: ConnectOptions, timeout: float = 30.0) -> None:
    """Until every member lists `node_id` in CLUSTER NODES (a handshake line does not count)."""

    endpoints = [n.endpoint for n in top.nodes.values()]
    wait_until_all(endpoints, lambda c: lists(c, node_id), options, timeout, "to list the new node")


def lists(c: NodeClient, node_id: str) -> bool:
    """This node's CLUSTER NODES has `node_id` (a handshake line does not count)."""
    view = parse_cluster_nodes(str(c.execute_command("CLUSTER", "NODES"))).value
    return any(e.id == node_id and "handshake" not in e.flags for e in view)


def slots_assigned(c: NodeClient) -> int:
    """CLUSTER INFO cluster_slots_assigned as this node sees it."""
    value = c.execute_command("CLUSTER", "INFO")  # redis-py may already parse it into a dict
    fields = value if isinstance(value, dict) else parse_kv(str(value)).value
    return as_int(str(fields.get("cluster_slots_assigned"))) or 0


def wait_until_all(
    endpoints: list[Endpoint],
    ready: Callable[[NodeClient], bool],
    options: ConnectOptions,
    timeout: float,
    what: str,
) -> None:
    """Poll every endpoint until `ready` holds on each (a node that does not answer is not ready)."""
    deadline = time.monotonic() + timeout
    pending = list(endpoints)
    while pending:
        still = []
        for endpoint in pending:
            try:
                with node_client(endpoint, options) as c:
                    if not ready(c):
                        still.append(endpoint)
            except (TransportError, OSError):
                still.append(endpoint)
        pending = still
        if pending and time.monotonic() > deadline:
            names = ", ".join(str(e) for e in pending[:5])
            raise DoctorError(f"after {timeout:.0f}s these nodes still wait {what}: {names}")
        if pending:
            time.sleep(0.1)
