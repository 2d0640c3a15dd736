"""The autopilot on real servers: the seed incident through a name that follows the pods, dry run, a dead
primary nothing may replace, two autopilots on one cluster, and a flapping node."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from pathlib import Path

import pytest
from tests.conftest import LabFactory, MapName, rcdoctor
from tests.integration.autopiloting import Pilot, autopilot_process, wait_status
from tests.integration.healing import kill_a_primary_that_nothing_replaces
from tests.integration.helpers import cluster_nodes, cluster_state, wait_for
from tests.integration.monitoring import scrape, value
from tests.integration.test_field_truth import all_failing, user_cluster, views
from tests.kube_api import write_kubeconfig
from tests.kube_leases import lease_server

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.faults import FaultOp, apply

pytestmark = pytest.mark.integration
NAME = "redis-main.gameserver-cache.svc.cluster.local"
SERVERS = ("redis7", "valkey8")


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> RedisBinary:
    binary: RedisBinary = request.getfixturevalue(request.param)
    return binary


def all_ok(lab: Lab) -> bool:
    """Every node says cluster_state:ok and lists every other at its current address, none failing."""
    addresses = {n.address for n in lab.nodes}
    for node in lab.nodes:
        if cluster_state(lab, node) != "ok":
            return False
        for fields in cluster_nodes(lab, node):
            if fields[1].split("@")[0] not in addresses or {"fail", "fail?", "noaddr"} & set(fields[2].split(",")):
                return False
    return True


def events(pilot: Pilot, name: str) -> list[dict[str, object]]:
    return [e for e in pilot.journal() if e["event"] == name]


def test_seed_incident_through_a_name_is_healed_unattended_and_dry_run_changes_nothing(
    server: RedisBinary, make_lab: LabFactory, tmp_path: Path, hosts: MapName
) -> None:
    lab, baseline, env = user_cluster(make_lab, server, tmp_path)
    hosts(NAME, [n.ip for n in lab.nodes])
    seed = f"{NAME}:6379"
    apply(lab, FaultOp("new-address", "all"))
    hosts(NAME, [n.ip for n in lab.nodes])  # DNS follows the pods
    all_failing(lab)

    # Dry run: the MEETs are planned and reported, nothing changes.
    before = views(lab)
    with autopilot_process(tmp_path, seed, "--dry-run", "--interval", "0.5", env=env, name="dry") as dry:
        status = wait_status(dry, lambda s: s["state"] == "dry-run", 30, "a dry-run decision")
        assert any("CLUSTER MEET" in a for a in status["actions"]), status
        assert status["codes"] == ["A003"], status
        time.sleep(3)  # several more rounds
        metrics = scrape(dry.url)
        assert (value(metrics, "rcdoctor_autopilot_blocked_total", reason="dry-run") or 0) >= 1
        assert value(metrics, "rcdoctor_autopilot_actions_total", code="A003", result="ok") is None
        planned = events(dry, "planned")
        assert planned and planned[0]["dry_run"] is True and not events(dry, "applied")
    assert views(lab) == before

    # For real, with the default options: every node ok within 45 s without any other command, every key
    # intact, the action counted.
    started = time.monotonic()
    with autopilot_process(tmp_path, seed, env=env) as pilot:  # the defaults: a round every 5 s, 2 rounds
        wait_for(lambda: all_ok(lab), 45, "every node ok, through the autopilot alone")
        took = time.monotonic() - started
        wait_status(pilot, lambda s: s["last_repair"] is not None and not s["repairing"], 60, "the repair recorded")
        metrics = scrape(pilot.url)
        assert value(metrics, "rcdoctor_autopilot_actions_total", code="A003", result="ok") == 1
        assert (value(metrics, "rcdoctor_autopilot_last_action_timestamp_seconds") or 0) > 0
        assert value(metrics, "redis_up") is not None  # the exporter's own metrics are there too
        journal = [e["event"] for e in pilot.journal()]
        for event in ("detected", "planned", "applied"):
            assert event in journal, journal
        assert "failed" not in journal, journal
    verified = rcdoctor("verify", seed, "--baseline", str(baseline), env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"healed unattended in {took:.1f}s")


def test_a_dead_primary_that_cannot_fail_over_is_reported_not_acted_on(
    server: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(server)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    kill_a_primary_that_nothing_replaces(lab)
    live = [n.address for n in lab.nodes if n.pid is not None]
    with autopilot_process(tmp_path, *live, "--interval", "0.5", env=env) as pilot:
        status = wait_status(
            pilot,
            lambda s: any("--allow-failover-force" in line for line in s["needs_human"]),
            60,
            "the failover reported as needing a human",
        )
        assert status["state"] == "blocked" and "needs-human" in status["blocked"], status
        assert any(
            line.startswith("run, once the evidence is checked: rcdoctor heal ") for line in status["needs_human"]
        )
        time.sleep(3)
        metrics = scrape(pilot.url)
        assert (value(metrics, "rcdoctor_autopilot_blocked_total", reason="needs-human") or 0) >= 1
        assert not [s for s in metrics.get("rcdoctor_autopilot_actions_total", []) if s.value]
        assert not events(pilot, "planned") and not events(pilot, "applied")


@pytest.mark.parametrize("lease", ["file", "k8s"])
def test_two_autopilots_on_one_cluster_one_actor(
    lease: str, server: RedisBinary, make_lab: LabFactory, tmp_path: Path, hosts: MapName
) -> None:
    """Both see the same confirmed finding; one acts, the other is refused by the lease: the default file
    lease, or a Kubernetes Lease through the real kubectl (a local API endpoint checking resourceVersion)."""
    lab = make_lab(server)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    hosts(NAME, [n.ip for n in lab.nodes])
    seed = f"{NAME}:6379"
    # The pre-repair hook takes a while (a page to a human, a check of a dashboard): the other autopilot's
    # rounds meanwhile find the same confirmed finding and must be refused by the lease.
    hook = 'if [ "$RCDOCTOR_EVENT" = pre-repair ]; then sleep 3; fi'
    args: tuple[str, ...] = (seed, "--interval", "0.5", "--hook", hook)
    with contextlib.ExitStack() as stack:
        if lease == "k8s":
            api = stack.enter_context(lease_server())
            env["KUBECONFIG"] = str(write_kubeconfig(tmp_path / "kubeconfig", {"lab": api.port}, "lab"))
            env["HOME"] = str(tmp_path)  # kubectl's discovery cache
            args = (*args, "--lease", "k8s:gameserver-cache/rcdoctor-autopilot")
        a = stack.enter_context(autopilot_process(tmp_path, *args, env=env, name="a"))
        b = stack.enter_context(autopilot_process(tmp_path, *args, env=env, name="b"))
        wait_status(a, lambda s: s["state"] == "healthy", 30, "a: healthy")
        wait_status(b, lambda s: s["state"] == "healthy", 30, "b: healthy")
        apply(lab, FaultOp("new-address", "all"))
        hosts(NAME, [n.ip for n in lab.nodes])
        # The repair's end (heal waits for the replica links it restarted), then the cluster's.
        wait_for(lambda: any(events(p, "applied") or events(p, "failed") for p in (a, b)), 90, "a repair's end")
        wait_for(lambda: all_ok(lab), 60, "every node ok")
        time.sleep(1)  # a round or two more: the other one must still not act
        applied = [p for p in (a, b) if events(p, "applied")]
        assert len(applied) == 1, [(p.pid, [e["event"] for e in p.journal()]) for p in (a, b)]
        (actor,) = applied
        other = b if actor is a else a
        assert not events(other, "planned") and not events(other, "applied")
        refused = [e for e in events(other, "blocked") if "lease" in e.get("blocked", [])]
        assert refused, list(other.journal())
        assert (value(scrape(other.url), "rcdoctor_autopilot_blocked_total", reason="lease") or 0) >= 1
        assert actor.status()["leader"] and not other.status()["leader"]
        if lease == "k8s":
            stored = api.stored[("gameserver-cache", "rcdoctor-autopilot")]["spec"]
            assert stored["holderIdentity"].endswith(f"/{actor.pid}") and stored["leaseTransitions"] == 1


def test_a_flapping_node_gets_at_most_one_repair_per_block_period(
    server: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    """A primary paused past the node timeout and resumed, again and again (a node that keeps stalling):
    whatever the autopilot finds to repair, it repairs at most once per block period."""
    lab = make_lab(server)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    block = 20.0
    stall = lab.state.node_timeout_ms / 1000 * 2
    # E004 allowed too: the stalled primary, back as a replica, is re-pointed (CLUSTER REPLICATE, loses
    # nothing), so each stall offers a repair and the block period has something to hold back.
    args = (
        *lab.addresses,
        "--interval",
        "0.5",
        "--block-period",
        f"{block:g}",
        "--allow",
        "default,E004",
        "--confirm-rounds",
        "1",
    )
    with autopilot_process(tmp_path, *args, env=env) as pilot:
        wait_status(pilot, lambda s: s["state"] == "healthy", 30, "healthy before the faults")
        roles = lab.live_roles()
        victim = next(n for n in lab.nodes if roles[n.name] == "primary")
        started = time.time()
        for _ in range(4):
            apply(lab, FaultOp("pause", victim.name))
            time.sleep(stall)
            apply(lab, FaultOp("resume", victim.name))
            time.sleep(stall)
        wait_for(lambda: all_ok(lab), 60, "every node ok after the flapping")
        journal = pilot.journal()
        repairs = [e["t"] for e in journal if e["event"] in ("applied", "failed") and e["t"] >= started]
        assert all(b - a >= block for a, b in itertools.pairwise(repairs)), repairs
        # Whether a stall offers a repair at all depends on the server and the timing (the old primary may be
        # back as a replica before a round sees it; stalls during a repair are dealt with by it): the stalls
        # must have been seen, the rest is the rule above.
        assert [e for e in journal if e["event"] == "detected" and e["t"] >= started], [e["event"] for e in journal]
        blocked = value(scrape(pilot.url), "rcdoctor_autopilot_blocked_total", reason="block-period") or 0
        print(f"pause/resume x4: {len(repairs)} repair(s), {blocked:g} round(s) held back by the block period")


def test_a_pod_that_keeps_moving_is_met_once_per_block_period(
    server: RedisBinary, make_lab: LabFactory, tmp_path: Path, hosts: MapName
) -> None:
    """A crash-looping pod, back at a new IP every few seconds (DNS follows): the same finding each time (keys
    name node ids, not addresses). The first move is repaired; the next one waits out the block period."""
    lab = make_lab(server)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    hosts(NAME, [n.ip for n in lab.nodes])
    block = 20.0
    args = (f"{NAME}:6379", "--interval", "0.5", "--block-period", f"{block:g}")
    with autopilot_process(tmp_path, *args, env=env) as pilot:
        wait_status(pilot, lambda s: s["state"] == "healthy", 30, "healthy before the faults")
        victim = lab.nodes[0].name
        started = time.time()

        def repairs() -> list[float]:
            return [e["t"] for e in pilot.journal() if e["event"] in ("applied", "failed") and e["t"] >= started]

        def move() -> None:
            apply(lab, FaultOp("new-address", (victim,)))
            hosts(NAME, [n.ip for n in lab.nodes])

        move()
        wait_for(lambda: len(repairs()) == 1, 60, "the first move repaired")
        move()  # again, right after: the same finding, inside the block period
        wait_status(pilot, lambda s: "block-period" in s["blocked"], 30, "the second move held back")
        assert len(repairs()) == 1
        # Healed by gossip meanwhile (the moved node still dials its peers), or once the period is over.
        wait_for(lambda: all_ok(lab), block + 60, "every node ok")
        done = repairs()
        assert len(done) <= 2 and all(b - a >= block for a, b in itertools.pairwise(done)), done
        assert (value(scrape(pilot.url), "rcdoctor_autopilot_blocked_total", reason="block-period") or 0) >= 1


def test_sigterm_during_a_repair_lets_it_finish(
    redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path, hosts: MapName
) -> None:
    """Kubernetes stops the autopilot's pod in the middle of a repair: the repair ends first (heal restores the
    failover setting it held), then the process exits 143."""
    import signal
    import subprocess
    import sys

    lab = make_lab(redis7)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    hosts(NAME, [n.ip for n in lab.nodes])
    log = tmp_path / "autopilot.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rcdoctor",
                "autopilot",
                f"{NAME}:6379",
                "--interval",
                "0.5",
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )
    try:
        wait_for(lambda: '"event":"healthy"' in log.read_text(), 30, "healthy before the fault")
        apply(lab, FaultOp("new-address", "all"))
        hosts(NAME, [n.ip for n in lab.nodes])
        wait_for(lambda: "phase meet" in log.read_text(), 30, "the repair under way")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=150) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert text.index('"event":"applied"') < text.index('"event":"stopped"'), text[-3000:]
    assert "Traceback" not in text
    for node in lab.nodes:  # the setting heal held while nodes reconnected is back
        with lab.client(node) as c:
            assert c.config_get("cluster-replica-no-failover")["cluster-replica-no-failover"] == "no"
    wait_for(lambda: all_ok(lab), 45, "every node ok")
