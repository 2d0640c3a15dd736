"""`rcdoctor exporter` and `rcdoctor probe` against real lab clusters (Redis 7.0 and 6.2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import LabFactory, rcdoctor, spare_ip, start_plain_server
from tests.integration.helpers import node_timeouts, wait_for
from tests.integration.monitoring import exporter_process, get, scrape, sd, value

from rcdoctor.lab import RedisBinary
from rcdoctor.lab.faults import FaultOp, apply, heal

pytestmark = pytest.mark.integration


def test_exporter_serves_every_node_and_stays_fast_with_a_hung_node(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary)
    with exporter_process(tmp_path, lab.nodes[0].address, "--interval", "0.3", "--timeout", "2") as base:
        wait_for(lambda: len(scrape(base).get("redis_up", [])) == 6, 15, "six nodes in /metrics")
        metrics = scrape(base)
        ids = {n.node_id for n in lab.nodes}
        assert {s.labels["node_id"] for s in metrics["redis_up"]} == ids
        assert all(s.value == 1 for s in metrics["redis_up"] + metrics["redis_cluster_state"])
        assert {s.labels["addr"] for s in metrics["redis_cluster_slots_ok"]} == set(lab.addresses)
        assert value(metrics, "rcdoctor_cluster_healthy") == 1
        assert value(metrics, "rcdoctor_cluster_views_agree") == 1
        assert value(metrics, "rcdoctor_cluster_primaries") == 3
        status, text = get(f"{base}/healthz")
        assert status == 200 and text.startswith("ok"), text
        assert sorted(t for g in sd(base) for t in g["targets"]) == sorted(lab.addresses)  # type: ignore[attr-defined]

        paused = lab.nodes[1]
        apply(lab, FaultOp("pause", paused.name))
        try:
            # Every scrape must answer while the node hangs: the client gives up after 1 s, half the
            # collector's per-node timeout, so a scrape that waited for the node would fail here.
            def paused_is_down() -> bool:
                return value(scrape(base, timeout=1.0), "redis_up", addr=paused.address) == 0

            wait_for(paused_is_down, 15, "the paused node reported down")
            for _ in range(5):
                metrics = scrape(base, timeout=1.0)
            assert value(metrics, "redis_up", addr=lab.nodes[0].address) == 1
            assert value(metrics, "rcdoctor_cluster_nodes_unreachable") == 1
            status, _ = get(f"{base}/healthz", timeout=1.0)
            assert status == 200  # the exporter is healthy even when the cluster is not
        finally:
            heal(lab)
        wait_for(lambda: value(scrape(base), "redis_up", addr=paused.address) == 1, 15, "the node back up")


def test_exporter_keeps_the_password_out_of_everything(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    secret = "s3cret-Pa55-for-exporter"
    password_file = tmp_path / "pw"
    password_file.write_text(secret + "\n")
    lab = make_lab(redis_binary, password_file=str(password_file))
    env = {"REDISCLI_AUTH": secret}
    with exporter_process(tmp_path, lab.nodes[0].address, "--interval", "0.3", env=env) as base:
        wait_for(lambda: value(scrape(base), "rcdoctor_cluster_nodes_answering") == 6, 15, "all nodes answering")
        for path in ("/metrics", "/sd", "/healthz"):
            _, text = get(base + path)
            assert secret not in text
    assert secret not in (tmp_path / "exporter.log").read_text()
    once = rcdoctor("exporter", lab.nodes[0].address, "--once", env={"REDISCLI_AUTH": "wrong"})
    assert once.returncode == 3 and "rcdoctor_up 0.0" in once.stdout  # refused: metrics say so, exit 3


def test_exporter_bad_input_is_one_line(tmp_path: Path) -> None:
    for args, message in [
        (["--listen", "nowhere"], "bad --listen"),
        (["--seeds-file", str(tmp_path / "missing")], "cannot read --seeds-file"),
        (["--interval", "0"], "--interval"),
    ]:
        result = rcdoctor("exporter", "127.0.0.1:1", *args, timeout=20)
        assert result.returncode == 3, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for seed, message in [("host:99999", "port"), ("http://x", "scheme")]:
        result = rcdoctor("exporter", seed, "--once", timeout=20)
        assert result.returncode == 3, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def probe(kind: str, address: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    return subprocess.run(
        [sys.executable, "-m", "rcdoctor", "probe", kind, address, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**full_env, **(env or {})},
        check=False,
    )


def test_probes_follow_the_node_not_the_cluster(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, node_timeout_ms=1000)
    primary, replica = lab.nodes[0], lab.followers({str(lab.nodes[0].node_id)})[0]
    for node in (primary, replica):
        for kind in ("liveness", "readiness", "startup"):
            result = probe(kind, node.address)
            assert result.returncode == 0, result.stdout + result.stderr
    assert "replica in sync" in probe("readiness", replica.address).stdout

    # A whole shard down: the other nodes say cluster_state:fail. Alive, but not ready.
    apply(lab, FaultOp("kill", (primary.name, replica.name)))
    other = lab.nodes[1]
    wait_for(lambda: probe("readiness", other.address).returncode == 2, node_timeouts(lab, 10), "not ready")
    failing = probe("readiness", other.address)
    assert "cluster_state:fail" in failing.stderr
    assert probe("liveness", other.address).returncode == 0
    assert probe("startup", other.address).returncode == 0
    dead = probe("liveness", primary.address, "--timeout", "0.5")
    assert dead.returncode == 2 and "cannot connect" in dead.stderr
    heal(lab)

    paused = lab.nodes[2]
    apply(lab, FaultOp("pause", paused.name))
    try:
        hung = probe("liveness", paused.address, "--timeout", "0.5")
        assert hung.returncode == 2 and "did not answer" in hung.stderr, hung.stderr
    finally:
        heal(lab)


def test_probes_with_credentials_tls_mismatch_and_a_plain_server(
    redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    secret = "probe-Secret-42"
    (tmp_path / "pw").write_text(secret + "\n")
    lab = make_lab(redis_binary, password_file=str(tmp_path / "pw"))
    node = lab.nodes[0].address
    assert probe("readiness", node, env={"REDISCLI_AUTH": secret}).returncode == 0
    assert probe("readiness", node, "--password-file", str(tmp_path / "pw")).returncode == 0
    wrong = probe("readiness", node, env={"REDISCLI_AUTH": "nope"})
    assert wrong.returncode == 3 and "credentials" in wrong.stderr and "nope" not in wrong.stderr + wrong.stdout
    assert "WRONGPASS" in wrong.stderr and "NOAUTH" not in wrong.stderr, wrong.stderr  # the cause, not its echo
    # options between the kind and the address (argparse would call the address unrecognized)
    between = probe("readiness", "--password-file", str(tmp_path / "pw"), node)
    assert between.returncode == 0, between.stderr
    missing = probe("startup", node)
    assert missing.returncode == 3, missing.stderr
    alive = probe("liveness", node)  # alive even with the wrong credentials: a restart would not fix them
    assert alive.returncode == 0 and "credentials" in alive.stdout
    tls = probe("liveness", node, "--tls", "--timeout", "1", env={"REDISCLI_AUTH": secret})
    # TLS to a plain port: the server waits for a command line, like a hung TLS node would (2); the line says
    # which mistake it may be (a plain client on a TLS port is the clear case: 3, in test_tls.py)
    assert tls.returncode == 2 and len(tls.stderr.strip().splitlines()) == 1, tls.stderr
    assert "plain port" in tls.stderr, tls.stderr
    bad = probe("readiness", "host:99999")
    assert bad.returncode == 3 and "port" in bad.stderr

    ip = spare_ip()
    server = start_plain_server(redis_binary, tmp_path / "plain", ip)
    try:
        plain = probe("readiness", f"{ip}:6379")
        assert plain.returncode == 3 and "not a cluster node" in plain.stderr, plain.stderr
        assert probe("liveness", f"{ip}:6379").returncode == 0
    finally:
        server.terminate()
        server.wait()
