"""The newer servers end to end: a lab of Valkey 8.1 or Redis 8.2 comes up, status names the server, a
healthy cluster of it is diagnosed healthy (no finding a Redis 7 cluster would not have)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import LabFactory, next_base_ip, rcdoctor, redis_processes_under

from rcdoctor.lab import RedisBinary
from rcdoctor.lab.data import DataSet, fill
from rcdoctor.lab.faults.slots import tag_for_slot

pytestmark = pytest.mark.integration


def test_lab_status_and_diagnose_name_the_server(newer_binary: RedisBinary, tmp_path: Path) -> None:
    directory = str(tmp_path / "lab")
    base = next_base_ip()
    up = rcdoctor("lab", "up", "--dir", directory, "--base-ip", base, "--redis-server", newer_binary.path)
    try:
        assert up.returncode == 0, up.stderr
        assert f"{newer_binary.name}-server {newer_binary.version}" in up.stderr + up.stdout
        lab = json.loads(rcdoctor("lab", "status", "--dir", directory, "--format", "json").stdout)
        assert (lab["server"], lab["version"]) == (newer_binary.name, newer_binary.version)
        seed = f"{base}:6379"
        status = rcdoctor("status", seed, "--format", "json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["summary"]["servers"] == {str(newer_binary.identity): 6}
        assert {(n["server"], n["version"], n["mode"]) for n in report["nodes"]} == {
            (newer_binary.name, newer_binary.version, "cluster")
        }
        diagnose = rcdoctor("diagnose", seed, "--format", "json")
        assert diagnose.returncode == 0, diagnose.stdout + diagnose.stderr
        findings = json.loads(diagnose.stdout)["findings"]
        assert all(f["severity"] == "info" for f in findings), findings
    finally:
        down = rcdoctor("lab", "down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    assert redis_processes_under(tmp_path) == []


def test_slot_stats_count_a_single_stray_key_exactly(
    newer_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """Valkey 8.0+ and Redis 8.2+ have CLUSTER SLOT-STATS (exact key counts of a primary's own slots), so
    S003 counts a lone stray among thousands of keys exactly, where a 1,000-key SCAN sample would likely
    miss it. (Redis 6.2/7.0 have no SLOT-STATS: this is about the newer servers only.)"""
    lab = make_lab(newer_binary)
    fill(lab.nodes[0].endpoint, lab.options, DataSet(6000, 20, prefix="many:"))
    holder, owner = lab.nodes[0], lab.nodes[1]
    slot = next(s for s in range(16384) if lab.slot_owner(s).name == owner.name)
    key = f"stray:{{{tag_for_slot(slot)}}}"
    # The only way a key lands on a non-owner: IMPORTING on it, ASKING, write, STABLE again.
    with lab.client(holder) as c:
        c.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", owner.node_id)
        pipe = c.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.execute_command("SET", key, "lost")
        pipe.execute()
        c.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
    out = rcdoctor("diagnose", *lab.addresses, "--format", "json", "--expand")
    found = [f for f in json.loads(out.stdout)["findings"] if f["code"] == "S003"]
    assert found, out.stdout[-2000:]
    evidence = " ".join(e for f in found for e in f["evidence"])
    assert "exactly 1 key outside its own slots" in evidence, evidence
    # The raw replies survive a snapshot file: the same count offline
    bundle = tmp_path / "bundle.json"
    assert rcdoctor("collect", *lab.addresses, "-o", str(bundle)).returncode == 0
    offline = rcdoctor("diagnose", "--from", str(bundle), "--format", "json", "--expand")
    again = [e for f in json.loads(offline.stdout)["findings"] if f["code"] == "S003" for e in f["evidence"]]
    assert any("exactly 1 key outside its own slots" in e for e in again), again
