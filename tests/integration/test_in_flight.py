"""In-flight states on clusters built the way users build them (redis-cli --cluster create, server
defaults, keys written first), Redis 7.0 and 6.2: heal waits for the replica syncs it starts instead of
re-issuing REPLICATE, and reports a repair that worked as one (exit 0)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.healing import baseline_now
from tests.integration.helpers import wait_for
from tests.integration.test_field_truth import all_failing, user_cluster

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.state import LabNode

pytestmark = pytest.mark.integration


def test_every_pod_moved_with_a_large_data_set_heals_through_the_replica_syncs(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    # Enough keys that a replica's full sync is not instant; Redis 7 also waits its default 5 s
    # repl-diskless-sync-delay before the first byte.
    lab, baseline, env = user_cluster(make_lab, redis_binary, tmp_path, keys=200_000)
    apply(lab, FaultOp("new-address", "all"))
    all_failing(lab)
    healed = rcdoctor("heal", *lab.addresses, "--apply", "--format", "json", env=env, timeout=400)
    assert healed.returncode == 0, _why_not_healed(healed)
    result = json.loads(healed.stdout)
    assert result["healthy"] is True
    replicates = [s for r in result["rounds"] for s in r["done"] if "REPLICATE" in s]
    # At most one REPLICATE per replica: none was re-issued while its sync ran.
    assert len(replicates) == len(set(replicates)) <= 3, replicates
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env, timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_verify_waits_for_a_replica_initial_sync_instead_of_failing_it(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """A replica restarted with an empty data directory (its nodes.conf kept: a pod whose emptyDir held the
    AOF) needs a full sync; Redis 7 waits its default 5 s repl-diskless-sync-delay before the first byte.
    The probe key cannot reach it before the sync ends, which is not a fault: verify waits for the sync,
    says it did, and passes."""
    lab, baseline, env = user_cluster(make_lab, redis_binary, tmp_path)
    roles = lab.live_roles()
    replica = next(n for n in lab.nodes if roles[n.name] == "replica")
    apply(lab, FaultOp("stop", replica.name))
    home = Path(replica.dir)
    for item in home.iterdir():
        if item.name not in ("nodes.conf", "redis.conf", "redis.log"):
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    apply(lab, FaultOp("start", replica.name))
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), "--format", "json", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    details = [r["detail"] for r in json.loads(verified.stdout)["results"] if r["name"].startswith("replicas of")]
    if redis_binary.version_tuple >= (7, 0):  # 6.2's default is a disk sync, which may end before verify looks
        assert any(f"waited for initial sync: {replica.address}" in d for d in details), details


def test_a_half_migration_whose_source_failed_over_is_closed_by_heal(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """Found by the chaos rehearsal: a slot half-moved from n1 to n2, then n1 cut off until its replica
    took over. n2, IMPORTING from a node that is now a replica, ignored the new owner's claim and dropped
    the slot: it sees it unowned and its whole state is fail, though it reaches every peer (no E003). heal
    tells n2 who owns the slot, finishes the move from the new primary, and every key is there."""
    lab, _, env = user_cluster(make_lab, redis_binary, tmp_path)
    roles = lab.live_roles()
    source = next(n for n in lab.nodes if roles[n.name] == "primary")
    target = next(n for n in lab.nodes if roles[n.name] == "primary" and n is not source)
    slot = next(s for s in range(0, 16384, 97) if lab.slot_owner(s).name == source.name)
    apply(lab, FaultOp("half-migrate", (), {"slot": slot, "to": target.name, "keys": 3}))
    baseline = baseline_now(lab, tmp_path)
    apply(lab, FaultOp("partition", (source.name,)))
    wait_for(lambda: _promoted(lab, source, target), 30, "a replica to take over")
    apply(lab, FaultOp("heal-network"))
    wait_for(lambda: lab.live_roles()[source.name] == "replica", 30, "the old primary to rejoin as a replica")
    found = json.loads(rcdoctor("diagnose", *lab.addresses, "--format", "json", env=env).stdout)
    roots = {f["code"] for f in found["findings"] if f["root_cause"]}
    assert "S004" in roots and "E003" not in roots, roots
    healed = rcdoctor("heal", *lab.addresses, "--apply", env=env, timeout=300)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout


def _why_not_healed(healed: subprocess.CompletedProcess[str]) -> str:
    """What is left first (a CI log keeps only part of a long message), then how the run went."""
    try:
        data = json.loads(healed.stdout)
        wanted = ("healthy", "degraded", "remaining", "blocked")
        left = json.dumps({k: data.get(k) for k in wanted}, indent=1)[:3000]
    except ValueError:
        left = healed.stdout[-3000:]
    return f"exit {healed.returncode}; left: {left}\n--- progress (tail) ---\n{healed.stderr[-4000:]}"


def _promoted(lab: Lab, old: LabNode, importing: LabNode) -> bool:
    """A bystander no longer gives `old` any slot: its replica won the election. (Not the importing
    node: it keeps the imported slot with `old`, the state this test is about.)"""
    others = [n for n in lab.nodes if n is not old and n is not importing]
    with lab.client(others[0]) as c:
        text = str(c.execute_command("CLUSTER", "NODES"))
    mine = next(line.split() for line in text.splitlines() if line.startswith(old.node_id))
    return "slave" in mine[2] or not [part for part in mine[8:] if not part.startswith("[")]
