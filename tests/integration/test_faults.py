"""Every fault has the effect it claims, seen with real commands, and its undo restores the cluster."""

from __future__ import annotations

import socket
import time

import pytest
from tests.conftest import LabFactory
from tests.integration.helpers import (
    cluster_nodes,
    cluster_state,
    node_timeouts,
    read_keys,
    wait_for,
    write_keys,
)

from rcdoctor.errors import FaultError
from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply, heal, resolve_targets
from rcdoctor.transport.errors import ReplyTimeout

pytestmark = pytest.mark.integration


def _refuses(lab: Lab, address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _healed(lab: Lab) -> None:
    heal(lab)
    assert lab.state.faults == []
    lab.wait_cluster_ok()


def test_restart_all_at_new_addresses_is_the_seed_incident(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    data = write_keys(lab, 300)
    ids = {n.name: n.node_id for n in lab.nodes}
    old = list(lab.addresses)
    result = apply(lab, FaultOp("new-address", "all"))
    assert set(result.nodes) == {n.name for n in lab.nodes}
    assert not set(old) & set(lab.addresses)
    assert all(_refuses(lab, a) for a in old)
    # every node reports cluster_state:fail within a few node-timeouts
    wait_for(
        lambda: all(cluster_state(lab, n) == "fail" for n in lab.nodes),
        node_timeouts(lab, 6) + 5,
        "every node reports cluster_state:fail",
    )
    for node in lab.nodes:
        with lab.client(node) as c:
            assert c.execute_command("CLUSTER", "MYID") == ids[node.name]  # same identity, same nodes.conf
        peers = [line for line in cluster_nodes(lab, node) if "myself" not in line[2]]
        assert {p[1].split("@")[0] for p in peers} <= set(old)  # peers still listed at old addresses
    _healed(lab)
    assert lab.addresses == old
    assert read_keys(lab, list(data)) == list(data.values())


def test_kill_then_start(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    victim = lab.nodes[0]
    others = [n for n in lab.nodes if n is not victim]
    apply(lab, FaultOp("kill", "n1"))
    assert _refuses(lab, victim.address) and not lab.is_running(victim)

    def flagged_fail() -> bool:
        return all(
            any(line[0] == victim.node_id and "fail" in line[2].split(",") for line in cluster_nodes(lab, n))
            for n in others
        )

    wait_for(flagged_fail, node_timeouts(lab, 6) + 5, "every peer flags the killed primary fail")
    # its replica took over: the primaries set now contains the replica
    promoted = next(n for n in lab.nodes if n.role == "replica" and n.shard == victim.shard)
    wait_for(
        lambda: promoted.name in {n.name for n in resolve_targets(lab, "primaries")},
        node_timeouts(lab, 6) + 5,
        "replica promoted",
    )
    _healed(lab)
    assert lab.is_running(victim)


def test_pause_and_resume(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary, node_timeout_ms=5000)
    target = lab.nodes[1]
    apply(lab, FaultOp("pause", "n2"))
    socket.create_connection((target.ip, target.port), timeout=1).close()  # the kernel still accepts
    with pytest.raises(ReplyTimeout), lab.client(target, timeout=0.5) as c:
        c.ping()
    _healed(lab)
    with lab.client(target) as c:
        assert c.ping()


def test_restart_keeps_identity_and_data(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    data = write_keys(lab, 100)
    ids = [n.node_id for n in lab.nodes]
    pids = [n.pid for n in lab.nodes]
    result = apply(lab, FaultOp("restart", "primaries"))
    assert result.undo is None and lab.state.faults == []
    assert [n.pid for n in lab.nodes][:3] != pids[:3]
    lab.wait_cluster_ok()
    for node, node_id in zip(lab.nodes, ids, strict=True):
        with lab.client(node) as c:
            assert c.execute_command("CLUSTER", "MYID") == node_id
    assert read_keys(lab, list(data)) == list(data.values())


def test_lose_nodes_conf(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    node = lab.nodes[3]  # a replica: comes back as an empty-config node knowing only itself
    old_id = node.node_id
    result = apply(lab, FaultOp("lose-nodes-conf", node.name))
    assert node.node_id != old_id and result.details["old_ids"][node.name] == old_id
    with lab.client(node) as c:
        info = str(c.execute_command("CLUSTER", "INFO"))
    assert "cluster_known_nodes:1" in info
    for peer in lab.nodes[:3]:
        assert old_id in {line[0] for line in cluster_nodes(lab, peer)}  # peers still list the old id
    _healed(lab)
    assert node.node_id == old_id
    with lab.client(node) as c:
        assert c.execute_command("CLUSTER", "MYID") == old_id


def test_half_migrated_slot(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    result = apply(lab, FaultOp("half-migrate", params={"slot": 42, "keys": 3}))
    source, target = lab.node(result.details["source"]), lab.node(result.details["target"])
    src_line = next(line for line in cluster_nodes(lab, source) if "myself" in line[2])
    dst_line = next(line for line in cluster_nodes(lab, target) if "myself" in line[2])
    assert f"[42->-{target.node_id}]" in src_line
    assert f"[42-<-{source.node_id}]" in dst_line
    with lab.client(source) as s, lab.client(target) as t:
        assert s.execute_command("CLUSTER", "COUNTKEYSINSLOT", 42) == 3
        assert t.execute_command("CLUSTER", "COUNTKEYSINSLOT", 42) == 3
    _healed(lab)
    with lab.client(source) as s, lab.client(target) as t:
        assert s.execute_command("CLUSTER", "COUNTKEYSINSLOT", 42) == 6
        assert t.execute_command("CLUSTER", "COUNTKEYSINSLOT", 42) == 0
        assert "[" not in " ".join(" ".join(line) for line in cluster_nodes(lab, source))


def test_drop_slot_owner(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    owner = lab.slot_owner(9000)
    from rcdoctor.lab.faults.slots import tag_for_slot

    key = f"{{{tag_for_slot(9000)}}}k"
    with lab.client(owner) as c:
        c.set(key, "kept")
    apply(lab, FaultOp("drop-slot-owner", params={"slot": 9000}))
    for node in lab.nodes:
        with lab.client(node) as c:
            assert all(not int(s[0]) <= 9000 <= int(s[1]) for s in c.execute_command("CLUSTER", "SLOTS"))
    wait_for(lambda: all(cluster_state(lab, n) == "fail" for n in lab.nodes), 10, "uncovered slot fails the cluster")
    with lab.client(owner) as c:
        assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", 9000) == 1  # keys stay on the former owner
    _healed(lab)
    assert lab.slot_owner(9000).name == owner.name
    assert read_keys(lab, [key]) == ["kept"]


def test_assign_twice(redis_binary: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis_binary)
    result = apply(lab, FaultOp("assign-twice", params={"slot": 12000, "keys": 4}))
    owner, other = lab.node(result.details["owner"]), lab.node(result.details["also_on"])
    assert lab.slot_owner(12000).name == owner.name
    with lab.client(owner) as o, lab.client(other) as t:
        assert o.execute_command("CLUSTER", "COUNTKEYSINSLOT", 12000) == 4
        assert t.execute_command("CLUSTER", "COUNTKEYSINSLOT", 12000) == 4  # keys on a node that does not own it
    _healed(lab)
    with lab.client(other) as t:
        assert t.execute_command("CLUSTER", "COUNTKEYSINSLOT", 12000) == 0


def test_target_sets_and_errors(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, primaries=3, replicas=1)
    names = lambda spec: [n.name for n in resolve_targets(lab, spec)]  # noqa: E731
    assert names("primaries") == ["n1", "n2", "n3"]
    assert names("replicas") == ["n4", "n5", "n6"]
    assert names("minority") == ["n1", "n2"]
    assert names("majority") == ["n3", "n4", "n5", "n6"]
    assert names("minority-primaries") == ["n1"]
    assert names(["n2", "127.0.0.0:1"][0]) == ["n2"]
    assert names(lab.nodes[4].address) == ["n5"]
    assert names((lab.nodes[5].node_id or "")[:8]) == ["n6"]
    assert names(("n1", "replica")) == ["n1", "n4"]
    r1 = resolve_targets(lab, "random", {"seed": 7})
    assert r1 == resolve_targets(lab, "random", {"seed": 7})
    with pytest.raises(FaultError):
        resolve_targets(lab, "")
    with pytest.raises(Exception, match="no node"):
        resolve_targets(lab, "n99")
    with pytest.raises(FaultError, match="unknown fault"):
        apply(lab, FaultOp("explode", "all"))
    with pytest.raises(FaultError, match="slot must be"):
        apply(lab, FaultOp("half-migrate", params={"slot": 99999}))


def test_fault_ops_are_data(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, primaries=3, replicas=0)
    op = FaultOp.from_dict({"f": "pause", "targets": ["n1", "n2"], "params": {}})
    result = apply(lab, op)
    recorded = lab.state.faults[-1]
    assert recorded["op"] == op.to_dict() and recorded["undo"] == {"f": "resume", "targets": ["n1", "n2"], "params": {}}
    assert result.to_dict()["nodes"] == ["n1", "n2"]
    reopened = Lab.open(directory=lab.state.root)  # another process finds the applied fault
    assert len(reopened.state.faults) == 1
    heal(reopened)
    time.sleep(0.1)
    with lab.client(lab.nodes[0]) as c:
        assert c.ping()


def test_a_node_can_lose_its_volume_twice(redis7: RedisBinary, make_lab: LabFactory) -> None:
    """Found by the chaos bench: the second loss of one node's volume failed, the first one's aside
    directory in the way. Each loss is put aside apart and the node comes back empty both times."""
    from pathlib import Path

    lab = make_lab(redis7)
    node = lab.nodes[3]  # a replica: no data lost for the cluster
    with lab.client(node) as c:
        c.execute_command("CONFIG", "SET", "appendonly", "yes")
    first = apply(lab, FaultOp("lose-volume", node.name)).undo
    second = apply(lab, FaultOp("lose-volume", node.name)).undo
    assert first is not None and second is not None
    asides = sorted(p.name for p in Path(node.dir).iterdir() if p.name.startswith("volume.lost"))
    assert asides == ["volume.lost", "volume.lost.2"], asides
    with lab.client(node) as c:
        assert c.dbsize() == 0
