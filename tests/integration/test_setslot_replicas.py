"""Closing a migration while a replica does not answer, on a server that waits for replicas on SETSLOT
(Valkey 8) and on one that does not (Redis 7.0).

Valkey 8 replicates CLUSTER SETSLOT to a primary's replicas and applies it only once they acknowledge it;
a replica that is paused (SIGSTOP) still counts as online for repl-timeout (60 s), so the primary answers
NOREPLICAS and applies nothing. The engine must never leave the slot half-closed there: the target owns it
and the source lets it go by gossip, or the slot stays open both ways with every key readable through ASK.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis.cluster import ClusterNode, RedisCluster
from tests.conftest import LabFactory, rcdoctor
from tests.integration.healing import baseline_after, baseline_now, filled
from tests.integration.helpers import cluster_nodes, node_timeouts, wait_for

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.state import LabNode

pytestmark = pytest.mark.integration

SLOT = 4000


def half_migrated(
    make_lab: LabFactory, binary: RedisBinary, tmp_path: Path
) -> tuple[Lab, dict[str, str], dict[str, str]]:
    """A 3+3 lab with slot SLOT half-migrated (keys on both sides) and a baseline of every key after it."""
    lab, env = filled(make_lab, binary, tmp_path)
    details = apply(lab, FaultOp("half-migrate", (), {"slot": SLOT, "keys": 4})).details
    return lab, env, {k: str(v) for k, v in details.items() if k in ("source", "target")}


def replica_of(lab: Lab, primary: LabNode) -> LabNode:
    for node in lab.nodes:
        mine = next(f for f in cluster_nodes(lab, node) if "myself" in f[2])
        if mine[3] == primary.node_id:
            return node
    raise AssertionError(f"{primary.name} has no replica")


def own_markers(lab: Lab, node: LabNode) -> list[str]:
    mine = next(f for f in cluster_nodes(lab, node) if "myself" in f[2])
    return [f for f in mine[8:] if f.startswith("[")]


def codes(lab: Lab, env: dict[str, str]) -> dict[str, str]:
    """Finding code -> severity, from diagnose of the answering nodes."""
    report = json.loads(rcdoctor("diagnose", *lab.addresses, "--format", "json", env=env).stdout)
    return {f["code"]: f["severity"] for f in report["findings"]}


def slot_keys_readable(lab: Lab, keys: list[str]) -> bool:
    """Every key of the slot read through a cluster client (it follows MOVED and ASK)."""
    client = RedisCluster(startup_nodes=[ClusterNode(lab.nodes[0].ip, lab.nodes[0].port)])
    try:
        return all(client.get(k) == f"value-of-{k}".encode() for k in keys)
    finally:
        client.close()


def fault_keys(lab: Lab, source: LabNode, target: LabNode) -> list[str]:
    keys: list[str] = []
    for node in (source, target):
        with lab.client(node) as c:
            keys += [str(k) for k in c.execute_command("CLUSTER", "GETKEYSINSLOT", SLOT, 1000)]
    return sorted(set(keys))


@pytest.mark.parametrize("server", ["valkey8", "redis7"])
def test_heal_closes_a_half_migration_whose_source_replica_is_paused(
    server: str, request: pytest.FixtureRequest, make_lab: LabFactory, tmp_path: Path
) -> None:
    binary: RedisBinary = request.getfixturevalue(server)
    lab, env, sides = half_migrated(make_lab, binary, tmp_path)
    source, target = lab.node(sides["source"]), lab.node(sides["target"])
    replica = replica_of(lab, source)
    if server == "valkey8":  # the server quirk this is about: the replica carries its primary's marker
        assert f"[{SLOT}->-{target.node_id}]" in own_markers(lab, replica)
    baseline = baseline_now(lab, tmp_path)
    apply(lab, FaultOp("pause", replica.name))
    try:
        healed = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
        assert "closing open slots" not in healed.stdout + healed.stderr, healed.stdout + healed.stderr
        assert f"slot {SLOT}: forward" in healed.stdout, healed.stdout
        assert own_markers(lab, source) == [] and own_markers(lab, target) == []
        found = codes(lab, env)
        assert "S003" not in found and "S004" not in found, found
    finally:
        apply(lab, FaultOp("resume", replica.name))
    # The paused replica applies what it missed (Valkey: the SETSLOT still in its replication stream, or the
    # target's claim by gossip) and rejoins: nothing open anywhere, every key where the baseline says.
    wait_for(lambda: own_markers(lab, replica) == [], node_timeouts(lab, 5), "the replica to drop its marker")
    wait_for(lambda: not set(codes(lab, env)) - {"C001", "C005"}, node_timeouts(lab, 10), "a clean diagnose")
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout


def test_valkey_target_replica_paused_leaves_the_slot_open_both_ways(
    valkey8: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """NODE refused on the target (its replica does not acknowledge): the source is not told either, so the
    slot stays open both ways with its keys on the target, readable through ASK, and the report names the
    replica. Once it answers again, heal closes the slot."""
    lab, env, sides = half_migrated(make_lab, valkey8, tmp_path)
    source, target = lab.node(sides["source"]), lab.node(sides["target"])
    keys = fault_keys(lab, source, target)
    baseline = baseline_now(lab, tmp_path)
    replica = replica_of(lab, target)
    apply(lab, FaultOp("pause", replica.name))
    try:
        refused = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        out = refused.stdout + refused.stderr
        assert "NODE on the target" in out and "NOREPLICAS" in out and replica.address in out, out
        assert own_markers(lab, source) == [f"[{SLOT}->-{target.node_id}]"]
        assert own_markers(lab, target) == [f"[{SLOT}-<-{source.node_id}]"]
        with lab.client(source) as c:
            assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", SLOT) == 0  # every key on the target
        assert slot_keys_readable(lab, keys)
        found = codes(lab, env)
        assert "S003" not in found and found.get("S004") != "critical", found
    finally:
        apply(lab, FaultOp("resume", replica.name))
    wait_for(lambda: "A001" not in codes(lab, env), node_timeouts(lab, 10), "the replica to answer again")
    healed = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert own_markers(lab, replica) == [] and own_markers(lab, target) == []
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout


def test_valkey_stray_keys_whose_holder_replica_is_paused_stop_with_the_replica_named(
    valkey8: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """Returning stray keys opens the slot on the holder (SETSLOT IMPORTING). On Valkey, with the holder's
    replica paused, the holder answers NOREPLICAS after the TIMEOUT: heal stops with that replica named and
    no traceback, leaves no marker on the holder, and returns the keys once the replica answers again.
    Valkey only: Redis applies SETSLOT without waiting for replicas (the ordinary stray test covers it)."""
    lab, env = filled(make_lab, valkey8, tmp_path)
    result = apply(lab, FaultOp("assign-twice", (), {"slot": SLOT, "keys": 4}))
    holder = lab.node(str(result.details["also_on"]))
    baseline = baseline_after(lab, tmp_path)
    replica = replica_of(lab, holder)
    apply(lab, FaultOp("pause", replica.name))
    try:
        refused = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
        out = refused.stdout + refused.stderr
        assert refused.returncode == 2 and "Traceback" not in out, out
        assert "NOREPLICAS" in out and replica.address in out and "stray keys" in out, out
        assert own_markers(lab, holder) == []
        with lab.client(holder) as c:
            assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", SLOT) > 0  # nothing was dropped
    finally:
        apply(lab, FaultOp("resume", replica.name))
    wait_for(lambda: own_markers(lab, replica) == [], node_timeouts(lab, 5), "the replica to drop any marker")
    wait_for(lambda: "A001" not in codes(lab, env), node_timeouts(lab, 10), "the replica to answer again")
    healed = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    with lab.client(holder) as c:
        assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", SLOT) == 0
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout


def test_valkey_lab_fault_with_a_paused_replica_is_refused_whole(
    valkey8: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """The lab's half-migrate on Valkey while the source's replica is paused: the source answers NOREPLICAS
    to MIGRATING, so the fault is refused in one line and the target's IMPORTING is undone (not half a
    fault). Valkey only: Redis applies SETSLOT without its replicas."""
    from rcdoctor.errors import FaultError

    lab, _ = filled(make_lab, valkey8, tmp_path)
    source = lab.slot_owner(SLOT)
    replica = replica_of(lab, source)
    apply(lab, FaultOp("pause", replica.name))
    try:
        with pytest.raises(FaultError, match="NOREPLICAS") as refused:
            apply(lab, FaultOp("half-migrate", (), {"slot": SLOT, "keys": 2}))
        assert "\n" not in str(refused.value) and source.name in str(refused.value)
        assert all(own_markers(lab, n) == [] for n in lab.nodes if n.name != replica.name)
    finally:
        apply(lab, FaultOp("resume", replica.name))
