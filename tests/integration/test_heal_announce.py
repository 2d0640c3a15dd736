"""A wrong cluster-announce-ip on real servers (Redis 7.0 and 6.2): diagnose names the setting as the root
cause, heal never MEETs the node (the node would undo it), refuses quickly without the flag, and with
--fix-announce-config heals with every key intact."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor
from tests.integration.healing import prepared
from tests.integration.helpers import cluster_nodes, wait_for
from tests.scenarios import config_set, primaries, unused_ip

from rcdoctor.lab import RedisBinary

pytestmark = pytest.mark.integration


def test_a_wrong_announce_ip_is_the_cause_and_heal_fixes_the_setting(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab, baseline, env = prepared(make_lab, redis_binary, tmp_path)
    wrong = primaries(lab)[0]
    announced = unused_ip(lab)
    config_set(lab, wrong, "cluster-announce-ip", announced)

    def peers_list_it_there() -> bool:
        lines = [f for n in lab.nodes if n is not wrong for f in cluster_nodes(lab, n) if f[0] == wrong.node_id]
        return len(lines) == len(lab.nodes) - 1 and all(f[1].startswith(f"{announced}:") for f in lines)

    wait_for(peers_list_it_there, 30, f"the peers list {wrong.name} at {announced}")

    diagnosed = rcdoctor("diagnose", *lab.addresses, "--format", "json", env=env)
    assert diagnosed.returncode == 2, diagnosed.stdout + diagnosed.stderr
    findings = json.loads(diagnosed.stdout)["findings"]
    roots = [f for f in findings if f["root_cause"] and f["severity"] == "critical"]
    about = [f for f in roots if wrong.node_id in {n["id"] for n in f["nodes"]}]
    assert [f["code"] for f in about] == ["C006"], roots
    (cause,) = about
    assert cause["basis"] == "seen" and any(f"cluster-announce-ip on {wrong.address}" in e for e in cause["evidence"])
    assert not any(f["code"] == "A003" and f["root_cause"] for f in findings), findings

    dry = rcdoctor("heal", *lab.addresses, "--format", "json", env=env)
    assert dry.returncode == 2, dry.stdout + dry.stderr
    planned = json.loads(dry.stdout)["plan"]
    commands = [s["command"] for p in planned["phases"] for s in p["steps"]]
    assert not any(c[:2] == ["CLUSTER", "MEET"] and c[2] == wrong.ip for c in commands), commands
    (line,) = [b for b in planned["blocked"] if b.startswith("C006")]
    assert "cluster-announce-ip" in line and "--fix-announce-config" in line and "pod spec" in line

    # Without the flag: nothing heal may do fixes it, and it says so at once (no MEET rounds).
    started = time.monotonic()
    refused = rcdoctor("heal", *lab.addresses, "--apply", env=env)
    assert refused.returncode == 2 and "cluster-announce-ip" in refused.stdout, refused.stdout + refused.stderr
    assert time.monotonic() - started < 15
    assert announced in str(cluster_nodes(lab, lab.nodes[1]))  # nothing was changed

    flagged = rcdoctor("heal", *lab.addresses, "--format", "json", "--fix-announce-config", env=env)
    phases = json.loads(flagged.stdout)["plan"]["phases"]
    assert phases[0]["name"] == "config"
    assert phases[0]["steps"][0]["command"][:3] == ["CONFIG", "SET", "cluster-announce-ip"]

    run = rcdoctor("heal", *lab.addresses, "--apply", "--fix-announce-config", "--format", "json", env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["healthy"] is True and result["rounds"][0]["phase"] == "config"
    for node in lab.nodes:
        with lab.client(node) as c:
            assert "cluster_state:ok" in str(c.execute_command("CLUSTER", "INFO"))
    verified = rcdoctor("verify", *lab.addresses, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout


def test_a_setting_that_comes_back_stops_heal_at_once(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """Something re-applies the wrong value (an operator reconciling the pod's config): the config step
    is undone, and heal stops after one round naming the setting instead of retrying."""
    import threading

    lab = make_lab(redis_binary)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    wrong = primaries(lab)[0]
    announced = unused_ip(lab)
    config_set(lab, wrong, "cluster-announce-ip", announced)
    wait_for(
        lambda: all(
            f[1].startswith(f"{announced}:")
            for n in lab.nodes
            if n is not wrong
            for f in cluster_nodes(lab, n)
            if f[0] == wrong.node_id
        ),
        30,
        f"the peers list {wrong.name} at {announced}",
    )
    stop = threading.Event()

    def operator() -> None:
        while not stop.is_set():
            with lab.client(wrong, timeout=1) as c:
                c.execute_command("CONFIG", "SET", "cluster-announce-ip", announced)
            stop.wait(0.3)

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        run = rcdoctor("heal", *lab.addresses, "--apply", "--fix-announce-config", env=env, timeout=120)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
    assert run.returncode == 2, run.stdout + run.stderr
    assert "cluster-announce-ip" in run.stderr and "again" in run.stderr and "re-applies" in run.stderr, run.stderr
    assert run.stdout.count("phase config:") == 1, run.stdout  # one round, not three
    assert took < 37, took
