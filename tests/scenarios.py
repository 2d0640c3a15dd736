"""Lab scenarios for the diagnose checks: each puts a real cluster in a known bad state and collects it.

Shared by the integration tests (which analyse the snapshot at once) and by
tests/data/record_snapshots.py (which saves it for the unit tests). Each scenario returns the snapshot
and the analysis settings it needs (failure domains).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tests.integration.helpers import cluster_nodes, wait_for

from rcdoctor.collect import collect
from rcdoctor.lab import Lab, LabSpec, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.faults.slots import tag_for_slot
from rcdoctor.lab.state import LabNode
from rcdoctor.model.server import fails_noaddr_nodes
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings

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
    # every pod recreated at new IPs, the user gives the one address they know
    "moved_one_seed": ({"A007", "A001", "A004", "M008"}, {"A007"}),
    # the same with the IPs reshuffled: old addresses answer as other nodes, one pod at a fresh IP
    "moved_ips_reused": ({"A003"}, {"A003"}),
    "ghost_and_forgotten": ({"M003", "M004"}, {"M003", "M004"}),
    # a migration in flight: keys on both sides and on the target's replica; one warning, no S003
    "migration_in_flight": ({"S004"}, {"S004"}),
    # the target forgot its IMPORTING: the keys already moved cannot be read (S004 critical)
    "migrating_source_only": ({"S004"}, {"S004"}),
    "two_clusters": ({"M007", "E001", "E002"}, {"M007"}),
    "cluster_merge": ({"M010", "E002"}, {"M010"}),
    "lagging_replica": ({"R003", "A001"}, {"A001"}),
    "colocated": ({"Q002", "Q003"}, {"Q002", "Q003"}),
    "stale_copy_after_failover": ({"M006", "E002", "S005", "R001"}, {"M006"}),
    "all_alone": ({"M006", "E001", "E002", "S001", "A006"}, {"M006"}),
    # A003 must not fire: the node did not move, its configuration announces the address (C006)
    "announce_ip": ({"C006", "A004", "A006", "M009"}, {"C006"}),
    # a standalone Redis among the seeds: said, not silently left out (exit 1, not 0)
    "plain_server_seed": ({"A008"}, {"A008"}),
}
REDIS7_ONLY = {
    "hostnames": ({"A005", "A006"}, {"A005"}),
    # Redis 7 waits repl-diskless-sync-delay (5 s) before a new replica's first sync; 6.2 syncs from disk
    # at once, too fast to catch with a small data set
    "replica_initial_sync": ({"R002"}, set()),
}
# Also expected on Redis 7 only: 6.2 keeps announcing the old bus port after a runtime CONFIG SET.
REDIS7_ALSO = {"bad_settings": {"A002"}}
# Instead of EXPECTED on a server that runs failure detection on noaddr nodes (Valkey 8.1, see
# rcdoctor.model.server.fails_noaddr_nodes): there the cluster repairs by itself part of what Redis leaves
# broken, and the scenario collects where it settles. scenario -> (must fire, must be root causes, must
# not fire).
NOADDR_FAILOVER: dict[str, tuple[set[str], set[str], set[str]]] = {
    # The old id is marked FAIL and its replica takes over: the lone node's claim on slot 100 now clashes
    # with the promoted replica (E002) while the others are ok (E003). No slot is left with a down owner
    # (S002) and clients are handed no dead endpoint (A006).
    "lost_nodes_conf": (
        {"M006", "M003", "A001", "M004", "M005", "E002", "E003", "E004", "S005"},
        {"M006"},
        {"S002", "A006"},
    ),
    # The noaddr entries are marked FAIL, then take the address their peers gossip (the gossip section
    # updates an address only for a node flagged PFAIL/FAIL, which Redis never flags a noaddr one): every
    # node lists every other at its new address within seconds, so no peer dials a stale one (A003). The
    # pod at the fresh IP still gives its old IP, now another pod's, in its own line (A004): only a MEET it
    # receives fixes that.
    "moved_ips_reused": ({"A004"}, {"A004"}, {"A003"}),
}

# make_lab(binary, **LabSpec fields) -> a running lab that is brought down by the caller
LabFactory = Callable[..., Lab]


@dataclass(frozen=True)
class Outcome:
    snapshot: Snapshot
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
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


def _half_migrated(make_lab: LabFactory, binary: RedisBinary) -> tuple[Lab, LabNode, int]:
    """A 3+3 cluster with slot 300 MIGRATING -> IMPORTING and 40 of its 80 keys moved; the target's
    replica has received them."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    result = apply(lab, FaultOp("half-migrate", (), {"slot": 300, "keys": 40}))
    target = lab.node(result.details["target"])
    follower = replica_of(lab, target)

    def replicated() -> bool:
        with lab.client(follower, timeout=1) as c:
            return int(c.execute_command("CLUSTER", "COUNTKEYSINSLOT", 300)) == 40

    wait_for(replicated, 20, "the target's replica holds the moved keys")
    return lab, target, 300


def migration_in_flight(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    lab, _, _ = _half_migrated(make_lab, binary)
    return Outcome(snap(lab), lab=lab)


def migrating_source_only(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    lab, target, slot = _half_migrated(make_lab, binary)
    with lab.client(target) as c:
        c.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
    return Outcome(snap(lab), lab=lab)


def replica_initial_sync(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A new empty node told to replicate a primary that holds keys, collected before its first sync
    (the server's default repl-diskless-sync-delay); tests/data/record_snapshots.py saves it as
    tests/data/replica-initial-sync-redis7.json (Redis 7 only: see REDIS7_ONLY)."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    primary = primaries(lab)[0]
    write_slot_keys(lab, lab_slot(lab, primary), 50)
    (new,) = lab.add_nodes(1, join=True)
    with lab.client(new) as c:
        c.execute_command("CLUSTER", "REPLICATE", primary.node_id)

    def waiting() -> bool:
        with lab.client(primary, timeout=1) as c:
            listed = c.info("replication")
        return any(isinstance(v, dict) and v.get("state") == "wait_bgsave" for v in listed.values())

    wait_for(waiting, 10, "the primary lists the new replica in wait_bgsave")
    return Outcome(snap(lab), lab=lab)


def lab_slot(lab: Lab, node: LabNode) -> int:
    """A slot the node owns (its first)."""
    with lab.client(node) as c:
        mine = next(ln for ln in str(c.execute_command("CLUSTER", "NODES")).splitlines() if "myself" in ln)
    return int(mine.split()[8].split("-")[0])


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
    and its PONG makes the peers drop the old id's address (noaddr): on Redis no failover ever happens.
    Valkey 8.1 marks the noaddr old id FAIL and its replica takes over; collected once it has."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    victim = primaries(lab)[0]
    write_slot_keys(lab, 100, 5)  # slot 100 is n1's
    old_id = victim.node_id or ""
    apply(lab, FaultOp("lose-nodes-conf", (victim.name,)))
    if fails_noaddr_nodes(binary.identity):
        wait_for(lambda: _flagged(lab, lab.nodes[1], old_id, "noaddr"), 20, "the peers mark the old id noaddr")
    else:
        # Each peer drops the address when its own ping meets the new id there: under load that can be
        # seconds apart. Collected before all have, the rest still list an address that answers (no A006).
        peers = [n for n in lab.nodes if n is not victim]
        wait_for(lambda: all(_flagged(lab, n, old_id, "noaddr") for n in peers), 20, "every peer marks it noaddr")

    def isolated_fail() -> bool:
        with lab.client(victim, timeout=1) as c:
            return "cluster_state:fail" in str(c.execute_command("CLUSTER", "INFO"))

    wait_for(isolated_fail, 20, f"{victim.name} reports cluster_state:fail")
    if fails_noaddr_nodes(binary.identity):
        # The replica is elected a second or so after the FAIL: collect where the cluster settles, not the
        # moment in between (every node fail then, the old id still owning its slots).
        replica = replica_of(lab, victim)

        def taken_over() -> bool:
            with lab.client(replica, timeout=1) as c:
                if str(c.info("replication")["role"]) != "master":
                    return False
            views = snap(lab, timeout=1).answered
            return len(views) == 6 and all(s.cluster_state == "ok" for s in views if s.address != victim.address)

        wait_for(taken_over, 30, f"{replica.name} takes over and the others are ok")
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


def moved_one_seed(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """All six pods at new IPs; collected from the new address of one node only."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    apply(lab, FaultOp("new-address", "all"))
    seed = lab.nodes[0].address

    def failing() -> bool:
        return all(s.cluster_state == "fail" for s in snap(lab, timeout=1).answered)

    wait_for(failing, 30, "cluster_state:fail on every node")
    return Outcome(snap(lab, [seed]), lab=lab)


def moved_ips_reused(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """All pods recreated, each taking the next pod's old IP (n1 gets n2's, …), the last one a fresh IP:
    every old address but the first answers as another node, and nothing lists the fresh one."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    old = [n.ip for n in lab.nodes]
    fresh = lab.allocate_ip()
    shifted = {n.name: (old[i + 1] if i + 1 < len(old) else fresh) for i, n in enumerate(lab.nodes)}
    apply(lab, FaultOp("new-address", "all", {"addresses": shifted}))
    seed = lab.nodes[0].address  # n1, now at n2's old IP
    if fails_noaddr_nodes(binary.identity):
        # Valkey 8.1: the noaddr entries are marked FAIL and then take the addresses peers gossip for them;
        # collect once every node lists every other where it is (the pod at the fresh IP keeps its own
        # stale line) and the cluster is ok again, not the few seconds of repair before.
        here = {n.node_id: n.address for n in lab.nodes}

        def repaired() -> bool:
            views = snap(lab, timeout=1).answered
            return len(views) == 6 and all(
                s.cluster_state == "ok" and all(e.is_myself or here.get(e.id) == e.address for e in s.view.value)
                for s in views
            )

        wait_for(repaired, 30, "every node lists every other at its new address, cluster ok")
        return Outcome(snap(lab, [seed]), lab=lab)

    def lost_addresses() -> bool:
        # Peers dialling an old IP get a PONG from another id there and drop the address (noaddr);
        # gossip meanwhile teaches the rest, so the cluster does not fail: it is left half-known.
        views = snap(lab, timeout=1).answered
        return len(views) == 6 and any("noaddr" in e.flags for s in views for e in s.view.value)

    wait_for(lost_addresses, 30, "a live node listed with no address")
    time.sleep(2)  # let the gossip that still helps finish
    return Outcome(snap(lab, [seed]), lab=lab)


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


def write_keys(lab: Lab, prefix: str, per_primary: int) -> None:
    """`per_primary` keys spread over each primary's slots, written on that primary."""
    for node in primaries(lab):
        me = next(f for f in cluster_nodes(lab, node) if "myself" in f[2].split(","))
        first, _, last = me[8].partition("-")
        low, high = int(first), int(last or first)
        with lab.client(node) as c:
            for i in range(per_primary):
                slot = low + i * (high - low + 1) // per_primary
                c.set(f"{{{tag_for_slot(slot)}}}:{prefix}{i}", prefix)


def cluster_merge(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A node of another cluster (3 primaries, keys) is met into this one (3+3, keys), as when a pod IP is
    reused by a pod of a second cluster and an init script MEETs it. Collected at once: the slot claims
    settle by configEpoch within seconds and the losers resync, after which nothing shows."""
    # Not the lab's 2 s node timeout: the merge runs its course in about a third of the node timeout (about
    # 1 s at 2 s, 5 s at Redis's default 15 s), and a loaded machine (CI: four workers on two cores) took
    # longer than 5 s between the MEET and the collection once (Valkey 8.1: the losers were replicas by
    # then). 45 s keeps the merge in view for about 15 s; the scenario collects right after the handshake.
    ours = make_lab(binary, primaries=3, replicas=1, node_timeout_ms=45000)
    theirs = make_lab(binary, primaries=3, replicas=0, node_timeout_ms=45000)
    ours.wait_cluster_ok()
    theirs.wait_cluster_ok()
    write_keys(ours, "ours", 100)
    write_keys(theirs, "theirs", 100)
    meeter, foreign = ours.nodes[0], theirs.nodes[0]
    with ours.client(meeter) as c:
        c.execute_command("CLUSTER", "MEET", foreign.ip, foreign.port)
    # The handshake ends (the foreign node is listed under its real id) in about 0.1 s; collect right then.
    wait_for(lambda: any(f[0] == foreign.node_id for f in cluster_nodes(ours, meeter)), 5, "the MEET handshake")
    return Outcome(snap(ours, timeout=1.0), lab=ours)


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
    return Outcome(snap(lab), AnalysisSettings(domains=MappingProxyType(lab.domains("host"))), lab=lab)


def unused_ip(lab: Lab, offset: int = 50) -> str:
    """A loopback IP of the lab's block where nothing listens (the base IP + `offset`)."""
    return str(ipaddress.ip_address(lab.nodes[0].ip) + offset)


def announce_ip(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A primary's cluster-announce-ip is set (CONFIG SET) to an IP where nothing listens: it keeps
    answering where it is, while its own line, CLUSTER SLOTS and every peer give the announced IP."""
    lab = make_lab(binary, primaries=3, replicas=1)
    lab.wait_cluster_ok()
    wrong = primaries(lab)[0]
    announced = unused_ip(lab)
    config_set(lab, wrong, "cluster-announce-ip", announced)
    others = [n for n in lab.nodes if n is not wrong]

    def peers_list_it_there() -> bool:
        # Listed at the announced IP with the bus link down (they cannot dial it there).
        for node in others:
            line = [f for f in cluster_nodes(lab, node) if f[0] == wrong.node_id]
            if not line or not line[0][1].startswith(f"{announced}:") or line[0][7] == "connected":
                return False
        return True

    wait_for(peers_list_it_there, 30, f"the peers list {wrong.name} at {announced}, link down")
    return Outcome(snap(lab), lab=lab)


def plain_server_seed(make_lab: LabFactory, binary: RedisBinary) -> Outcome:
    """A healthy cluster collected with a standalone redis-server (cluster-enabled no) among its seeds."""
    from tests.conftest import start_plain_server

    lab = make_lab(binary, primaries=3, replicas=0)
    lab.wait_cluster_ok()
    ip = unused_ip(lab, 60)
    server = start_plain_server(binary, Path(lab.state.root) / "plain", ip)
    try:
        snapshot = snap(lab, [*lab.addresses, f"{ip}:6379"])
    finally:
        server.terminate()
        server.wait()
    return Outcome(snapshot, lab=lab)
