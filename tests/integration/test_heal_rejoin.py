"""heal on nodes that know only themselves (Redis 7.0 and 6.2): a primary back without nodes.conf after its
replica took over (two primaries claim the same slots, E002), an empty replacement for a lost volume,
and no cluster left at all (every nodes.conf lost: --rebuild-from-keys). Nothing may be lost: keys only
the stale side holds are merged, different values are kept in a salvage file, and verify proves it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.healing import KEYS, baseline_now, filled, heal_and_verify, lose_nodes_conf, prepared, steps
from tests.integration.helpers import node_timeouts, wait_for

from rcdoctor.divergence import report
from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.state import LabNode

pytestmark = pytest.mark.integration


def _role_of(lab: Lab, node: LabNode) -> str:
    with lab.client(node, timeout=1) as c:
        return str(c.info("replication")["role"])


def _salvage_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state").rglob("salvage-*.jsonl"))


def test_primary_back_without_nodes_conf_after_its_replica_took_over(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """Both claim the shard's slots (E002). The replica that took over serves them and wins; keys only the
    old primary still holds (writes the failover lost: here, keys deleted on the new primary) go back to
    it, a key it holds with another value is kept in the salvage file, and only then is it emptied."""
    lab, _, env = prepared(make_lab, redis_binary, tmp_path)
    primary = next(n for n in lab.nodes if lab.live_roles()[n.name] == "primary")
    (replica,) = lab.followers({primary.node_id or ""})
    # Down long enough for its replica to take over, then back without nodes.conf (a pod rescheduled
    # onto a fresh config volume). Restarted in place instead, its replica would never fail over: the
    # peers mark the old id noaddr, which is never flagged fail.
    apply(lab, FaultOp("kill", primary.name))
    wait_for(lambda: _role_of(lab, replica) == "master", node_timeouts(lab, 10), "the replica to take over")
    apply(lab, FaultOp("lose-nodes-conf", primary.name))
    with lab.client(replica) as c:
        shard_keys = sorted(k for k in c.scan_iter(match="heal:*", count=1000))[:4]
        lost, changed = shard_keys[:3], shard_keys[3]
        before = {k: c.dump(k) for k in lost}
        for key in lost:
            c.delete(key)
        c.set(changed, "written on the new primary after the failover")

    diagnosed = json.loads(rcdoctor("diagnose", *lab.addresses, "--format", "json", env=env).stdout)
    assert "E002" in {f["code"] for f in diagnosed["findings"]}

    dry = rcdoctor("heal", *lab.addresses, env=env)
    assert dry.returncode == 2 and "--allow-discard-replica-copy" in dry.stdout, dry.stdout
    refused = rcdoctor("heal", *lab.addresses, "--apply", env=env)
    assert refused.returncode == 2, refused.stdout
    with lab.client(primary) as c:
        assert c.dbsize() > 0  # without the flag the stale copy is untouched

    run = rcdoctor(
        "heal", *lab.addresses, "--apply", "--allow-discard-replica-copy", "--format", "json", env=env, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    verified = rcdoctor("verify", *lab.addresses, "--expect-keys", str(KEYS), env=env)
    assert verified.returncode == 0, verified.stdout
    with lab.client(replica) as c:
        assert {k: c.dump(k) for k in lost} == before  # merged back from the stale copy
        assert c.get(changed) == "written on the new primary after the failover"  # the winner's value kept
    assert _role_of(lab, primary) == "slave"
    (kept,) = _salvage_files(tmp_path)
    header, diffs = report.read(kept)
    assert header["a"]["address"] == primary.address
    assert {(d.key.decode(), d.kind) for d in diffs} == {*((k, "only-a") for k in lost), (changed, "differ")}


def test_empty_replacement_of_a_lost_replica_becomes_its_replica_again(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, baseline, env = prepared(make_lab, redis_binary, tmp_path)
    roles = lab.live_roles()
    victim = next(n for n in lab.nodes if roles[n.name] == "replica")
    with lab.client(victim) as c:
        followed = c.info("replication")["master_port"], c.info("replication")["master_host"]
    assert lose_nodes_conf(lab, "replica", fault="lose-volume") is victim
    planned = heal_and_verify(lab, baseline, env)
    rejoin = steps(planned, "rejoin")
    assert [s["command"][1] for s in rejoin] == ["MEET", "REPLICATE"]  # type: ignore[index]
    assert not any(s["risk"] for s in rejoin)
    with lab.client(victim) as c:
        info = c.info("replication")
        assert (info["master_port"], info["master_host"]) == followed  # the shard that lost it
        assert c.dbsize() > 0  # synced


def test_rebuild_when_every_node_lost_nodes_conf(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, baseline, env = prepared(make_lab, redis_binary, tmp_path)
    apply(lab, FaultOp("lose-nodes-conf", "all"))
    dry = rcdoctor("heal", *lab.addresses, env=env)
    assert dry.returncode == 2 and "--rebuild-from-keys" in dry.stdout, dry.stdout
    planned = heal_and_verify(lab, baseline, env, "--rebuild-from-keys")
    rebuilt = steps(planned, "rebuild")
    verbs = [s["command"][1] for s in rebuilt if s["command"][0] == "CLUSTER"]  # type: ignore[index]
    assert verbs.count("SET-CONFIG-EPOCH") == 3 and verbs.count("MEET") == 2, verbs  # the 3 primaries
    assert not any(s["risk"] for s in rebuilt) and all(s["command"][0] != "FLUSHALL" for s in rebuilt)  # type: ignore[index]
    roles = lab.live_roles()
    assert sorted(roles.values()) == ["primary"] * 3 + ["replica"] * 3
    assert not _salvage_files(tmp_path)  # every copy matched its primary


def test_half_migrated_slots_in_both_directions(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """Two primaries each half-way through moving a slot to the other, keys on both sides of both."""
    lab, env = filled(make_lab, redis_binary, tmp_path)
    first = lab.slot_owner(4000)
    other_slot = next(s for s in range(0, 16384, 97) if lab.slot_owner(s).name != first.name)
    second = lab.slot_owner(other_slot)
    apply(lab, FaultOp("half-migrate", (), {"slot": 4000, "to": second.name, "keys": 4}))
    apply(lab, FaultOp("half-migrate", (), {"slot": other_slot, "to": first.name, "keys": 3}))
    baseline = baseline_now(lab, tmp_path)
    planned = heal_and_verify(lab, baseline, env)
    (slots,) = [p for p in planned["plan"]["phases"] if p["name"] == "slots"]  # type: ignore[index,union-attr]
    assert sorted(c["slot"] for c in slots["open_slots"]) == sorted([4000, other_slot])


def test_new_addresses_with_a_half_migrated_and_an_uncovered_slot(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, env = filled(make_lab, redis_binary, tmp_path)
    apply(lab, FaultOp("half-migrate", (), {"slot": 4000, "keys": 4}))
    baseline = baseline_now(lab, tmp_path)
    apply(lab, FaultOp("drop-slot-owner", (), {"slot": 123}))
    apply(lab, FaultOp("new-address", "all"))
    planned = heal_and_verify(lab, baseline, env)
    names = [p["name"] for p in planned["plan"]["phases"]]  # type: ignore[index,union-attr]
    assert names[0] == "meet"
