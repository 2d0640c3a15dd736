"""Lab scenarios for the diagnose checks: each puts a real cluster in a known bad state and collects it.

Shared by the integration tests (which analyse the snapshot at once) and by
tests/data/record_snapshots.py (which saves it for the unit tests). Each scenario returns the snapshot
and the analysis settings it needs (failure domains).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tests.integration.helpers import cluster_nodes, wait_for

from rcdoctor.checks import Settings
from rcdoctor.collect import collect
from rcdoctor.lab import Lab, LabSpec, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.faults.slots import tag_for_slot
from rcdoctor.lab.state import LabNode
from rcdoctor.model.snapshot import Snapshot

# scenario -> (codes that must fire, codes that must be root causes); Redis 7-only checks marked below
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "healthy": ({"C001", "C005"}, set()),
    "primary_down_no_failover": (
        {"A001", "M001", "M008", "M009", "S002", "R002", "R004", "R005"},
        {"A001"},
    ),
    "two_primaries": ({"Q001", "R001"}, {"Q001", "R001"}),
    "bad_settings": ({"C002", "C003", "C004", "C005", "C006", "C007"}, {"C002", "C003", "C004", "C005", "C006"}),
    "slot_damage": ({"S001", "S003", "S004", "M008"}, {"S001", "S004"}),
    "lost_nodes_conf": (
        {"M006", "M003", "A001", "A006", "M004", "M005", "E003", "E004", "S002", "S005"},
        {"M006"},
    ),
    "new_address_all": ({"A003", "A004", "A006", "M002", "M008", "E004"}, {"A003"}),
    "new_address_one": ({"A004", "A006"}, {"A004"}),
    "ghost_and_forgotten": ({"M003", "M004"}, {"M003", "M004"}),
    "two_clusters": ({"M007", "E001", "E002"}, {"M007"}),
    "lagging_replica": ({"R003", "A001"}, {"A001"}),
    "colocated": ({"Q002", "Q003"}, {"Q002", "Q003"}),
    "stale_copy_after_failover": ({"M006", "E002", "S005", "R001"}, {"M006"}),
    "all_alone": ({"M006", "E001", "E002", "S001", "A006"}, {"M006"}),
}
REDIS7_ONLY = {"hostnames": ({"A005", "A006"}, {"A005"})}
# Also expected on Redis 7 only: 6.2 keeps announcing the old bus port after a runtime CONFIG SET.
REDIS7_ALSO = {"bad_settings": {"A002"}}

# make_lab(binary, **LabSpec fields) -> a running lab that is brought down by the caller
LabFactory = Callable[..., Lab]


@dataclass(frozen=True)
class Outcome:
    snapshot: Snapshot
    settings: Settings = field(default_factory=Settings)
    lab: Lab | None = None


def snap(lab: Lab, seeds: list[str] | None = None, timeout: float = 2.0) -> Snapshot:
    return collect(seeds or lab.addresses, replace(lab.options, timeout=timeout))


def lab_factory(directory: Path, first_block: int, labs: list[Lab]) -> LabFactory:
    """Labs for scripts that run scenarios outside pytest: each on its own loopback block, appended to
    `labs` so the caller brings them down."""

    def make_lab(binary: RedisBinary, **spec: Any) -> Lab:
        spec.setdefault("base_ip", f"127.{first_block + len(labs)}.0.11")
        name = f"s{len(labs)}"
        lab = Lab.up(LabSpec(**spec), name=name, directory=directory / name, binary=binary)
        labs.append(lab)
        return lab

    return make_lab


def primaries(lab: Lab) -> list[LabNode]:
    return [n for n in lab.nodes if n.role == "primary"]


def replica_of(lab: Lab, primary: LabNode) -> LabNode:
    return next(n for n in lab.nodes if n.role == "replica" and n.shard == primary.shard)


def config_set(lab: Lab, node: LabNode, *pairs: str) -> None:
    with lab.client(node) as c:
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):  # 6.2 takes one pair per CONFIG SET
            c.execute_command("CONFIG", "SET", key, value)


def write_slot_keys(lab: Lab, slot: int, count: int) -> None:
    owner = lab.slot_owner(slot)
    tag = tag_for_slot(slot)
    with lab.client(owner) as c:
        for i in range(count):
            c.set(f"{{{tag}}}:k{i}", str(i))


def _flagged(lab: Lab, observer: LabNode, node_id: str, flag: str) -> bool:
    return any(fields[0] == node_id and flag in fields[2].split(",") for fields in cluster_nodes(lab, observer))


# The scenarios


def healthy(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    return Outcome(snap(lab), lab=lab)


def primary_down_no_failover(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A primary is killed; its only replica may not fail over (cluster-replica-no-failover yes)."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    victim = primaries(lab)[0]
    config_set(lab, replica_of(lab, victim), "cluster-replica-no-failover", "yes")
    apply(lab, FaultOp("kill", (victim.name,)))
    observer = primaries(lab)[1]
    assert victim.node_id
    wait_for(lambda: _flagged(lab, observer, victim.node_id or "", "fail"), 30, f"{victim.name} flagged fail")
    return Outcome(snap(lab, [observer.address]), lab=lab)


def two_primaries(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    lab = make_lab(binary, primaries=2, replicas=0)
    lab.wait_cluster_ok()
    return Outcome(snap(lab), lab=lab)


def bad_settings(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """Risky or inconsistent settings on different nodes of a healthy 3+1 cluster."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    p1, p2, p3 = primaries(lab)
    config_set(lab, p1, "cluster-node-timeout", "500")  # C002, and C007 (differs)
    config_set(lab, p2, "appendonly", "no", "save", "")  # C003
    config_set(lab, replica_of(lab, p1), "cluster-replica-validity-factor", "0")  # C004
    config_set(lab, p3, "min-replicas-to-write", "2")  # C005: one replica only, writes refused
    # C006; on 7.x the new port is announced at once, so peers dial it and A002 fires too
    announcer = replica_of(lab, p3)
    config_set(lab, announcer, "cluster-announce-bus-port", "17999")
    if lab.version >= (7, 0):

        def announced() -> bool:
            with lab.client(announcer, timeout=1) as c:
                mine = [ln for ln in str(c.execute_command("CLUSTER", "NODES")).splitlines() if "myself" in ln]
            return bool(mine) and "@17999" in mine[0]

        wait_for(announced, 10, "the node's own line shows the announced bus port")
    return Outcome(snap(lab), lab=lab)


def slot_damage(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """An uncovered slot that keeps its keys, a slot whose keys were copied to a second primary, a
    half-migrated slot."""
    lab = make_lab(binary, primaries=3, replicas=0)
    lab.wait_cluster_ok()
    write_slot_keys(lab, 9000, 3)
    apply(lab, FaultOp("assign-twice", params={"slot": 12000, "keys": 4}))
    apply(lab, FaultOp("half-migrate", params={"slot": 7, "keys": 2}))
    apply(lab, FaultOp("drop-slot-owner", params={"slot": 9000}))  # last: the cluster goes down
    return Outcome(snap(lab), lab=lab)


def lost_nodes_conf(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A primary with keys loses nodes.conf. It restarts with a new id, claims the slot it has keys for,
    and its PONG makes the peers drop the old id's address (noaddr): no failover ever happens."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    victim = primaries(lab)[0]
    write_slot_keys(lab, 100, 5)  # slot 100 is n1's
    old_id = victim.node_id or ""
    apply(lab, FaultOp("lose-nodes-conf", (victim.name,)))
    wait_for(lambda: _flagged(lab, lab.nodes[1], old_id, "noaddr"), 20, "the peers mark the old id noaddr")

    def isolated_fail() -> bool:
        with lab.client(victim, timeout=1) as c:
            return "cluster_state:fail" in str(c.execute_command("CLUSTER", "INFO"))

    wait_for(isolated_fail, 20, f"{victim.name} reports cluster_state:fail")
    return Outcome(snap(lab), lab=lab)


def stale_copy_after_failover(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A primary is down long enough for its replica to take over, then comes back without nodes.conf:
    it knows only itself and claims its old slots (epoch 0) while the promoted replica serves them."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    victim = primaries(lab)[0]
    write_slot_keys(lab, 100, 5)
    replica = replica_of(lab, victim)
    apply(lab, FaultOp("kill", (victim.name,)))

    def promoted() -> bool:
        with lab.client(replica, timeout=1) as c:
            return str(c.info("replication")["role"]) == "master"

    wait_for(promoted, 30, f"{replica.name} to take over")
    apply(lab, FaultOp("lose-nodes-conf", (victim.name,)))

    def serving() -> bool:
        with lab.client(replica, timeout=1) as c:
            return "cluster_state:ok" in str(c.execute_command("CLUSTER", "INFO"))

    wait_for(serving, 30, "the cluster without the lone node to be ok")
    return Outcome(snap(lab), lab=lab)


def all_alone(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """Every node restarted without nodes.conf: each knows only itself and claims the slots of its keys."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    for slot in (100, 6000, 12000):  # keys in every shard, on its replica too
        write_slot_keys(lab, slot, 3)
        with lab.client(lab.slot_owner(slot)) as c:
            c.execute_command("WAIT", 1, 5000)
    apply(lab, FaultOp("lose-nodes-conf", "all"))
    return Outcome(snap(lab), lab=lab)


def new_address_all(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    apply(lab, FaultOp("new-address", "all"))

    def all_fail() -> bool:
        return all(s.cluster_state == "fail" for s in snap(lab, timeout=1).answered)

    wait_for(all_fail, 30, "cluster_state:fail on every node")
    return Outcome(snap(lab), lab=lab)


def new_address_one(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    moved = primaries(lab)[0]
    apply(lab, FaultOp("new-address", (moved.name,)))
    others = [n for n in lab.nodes if n is not moved]

    def peers_learned() -> bool:
        for node in others:
            with lab.client(node, timeout=1) as c:
                if moved.ip not in str(c.execute_command("CLUSTER", "NODES")):
                    return False
        return True

    wait_for(peers_learned, 30, "peers learn the moved node's new address")
    return Outcome(snap(lab), lab=lab)


def hostnames(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """Redis 7: clients are given hostnames; one node's name resolves elsewhere, the others have none.

    `localhost` resolves from /etc/hosts, so no DNS query leaves the machine.
    """
    lab = make_lab(binary, primaries=3, replicas=0)
    lab.wait_cluster_ok()
    first = lab.nodes[0]
    config_set(lab, first, "cluster-announce-hostname", "localhost")
    for node in lab.nodes:
        config_set(lab, node, "cluster-preferred-endpoint-type", "hostname")

    def gossiped() -> bool:
        with lab.client(lab.nodes[1], timeout=1) as c:
            return ",localhost" in str(c.execute_command("CLUSTER", "NODES"))

    wait_for(gossiped, 15, "the hostname reaches the peers")
    return Outcome(snap(lab), lab=lab)


def ghost_and_forgotten(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A MEET to an address where nothing listens (a handshake ghost) and a node forgotten by one node."""
    lab = make_lab(binary, primaries=3, replicas=1, node_timeout_ms=6000)
    lab.wait_cluster_ok()
    p1, p2, _ = primaries(lab)
    forgotten = replica_of(lab, p2)
    nowhere = lab.allocate_ip()
    with lab.client(p1) as c:
        c.execute_command("CLUSTER", "FORGET", forgotten.node_id)  # remembered as forgotten for 60 s
        c.execute_command("CLUSTER", "MEET", nowhere, 6379)
    return Outcome(snap(lab), lab=lab)


def two_clusters(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    one = make_lab(binary, primaries=3, replicas=0)
    two = make_lab(binary, primaries=3, replicas=0)
    one.wait_cluster_ok()
    two.wait_cluster_ok()
    return Outcome(snap(one, [one.addresses[0], two.addresses[0]]), lab=one)


def lagging_replica(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A replica paused for 4 s (node-timeout 20 s: no failure) while its primary takes writes."""
    lab = make_lab(binary, primaries=3, replicas=1, node_timeout_ms=20000)
    lab.wait_cluster_ok()
    primary = primaries(lab)[0]
    replica = replica_of(lab, primary)
    apply(lab, FaultOp("pause", (replica.name,)))
    with lab.client(primary) as c:
        tag = tag_for_slot(100)
        for i in range(50):
            c.set(f"{{{tag}}}:lag{i}", "x" * 100)
    time.sleep(4)
    return Outcome(snap(lab, [primary.address], timeout=1.0), lab=lab)


def colocated(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """Two hosts; each replica on its primary's host; one host holds 2 of the 3 primaries."""
    lab = make_lab(binary, primaries=3, replicas=1, hosts=2, placement="colocated")
    lab.wait_cluster_ok()
    return Outcome(snap(lab), Settings(domains=MappingProxyType(lab.domains("host"))), lab=lab)
