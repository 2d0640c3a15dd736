"""The lab on real server processes, every server of the matrix (Redis 7.0, 6.2, 8.2, Valkey 8.1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.conftest import LabFactory, next_base_ip, rcdoctor, redis_processes_under
from tests.integration.helpers import cluster_nodes, cluster_state

from rcdoctor.errors import LabError
from rcdoctor.lab import Lab, LabSpec, RedisBinary
from rcdoctor.lab import process as lab_process
from rcdoctor.model.server import server_identity

pytestmark = pytest.mark.integration


def test_up_creates_a_healthy_cluster_and_down_removes_everything(redis_binary: RedisBinary, tmp_path: Path) -> None:
    base = next_base_ip()
    lab = Lab.up(
        LabSpec(primaries=3, replicas=1, base_ip=base), name="t", directory=tmp_path / "lab", binary=redis_binary
    )
    try:
        assert [n.ip for n in lab.nodes][:2] == [base, base.rsplit(".", 1)[0] + ".12"]
        assert {n.port for n in lab.nodes} == {6379}
        for node in lab.nodes:
            assert cluster_state(lab, node) == "ok"
            assert (Path(node.dir) / "nodes.conf").exists()
            with lab.client(node) as c:
                assert c.config_get("appendonly")["appendonly"] == "yes"
                assert c.config_get("cluster-node-timeout")["cluster-node-timeout"] == "2000"
                # The node runs the binary's own server and version. Read through server_identity: Valkey
                # answers redis_version:7.2.4 whatever its release, its own version is valkey_version.
                identity = server_identity(c.info("server"))
                assert identity is not None and (identity.name, identity.version) == (
                    redis_binary.name,
                    redis_binary.version,
                )
            # each node records every peer at its own loopback IP (bind-source-addr on 7.x)
            addresses = {line[1].split("@")[0] for line in cluster_nodes(lab, node)}
            assert addresses == {n.address for n in lab.nodes}
        replicas = [n for n in lab.nodes if n.role == "replica"]
        assert len(replicas) == 3
        state = json.loads((tmp_path / "lab" / "lab.json").read_text())
        assert (
            state["format_version"] == 1
            and state["version"] == redis_binary.version
            and len(state["nodes"]) == 6
            and state["binary"] == redis_binary.path
        )
        pids = [n.pid for n in lab.nodes]
        assert sorted(redis_processes_under(tmp_path)) == sorted(pids)
    finally:
        lab.down()
    assert redis_processes_under(tmp_path) == []
    assert not (tmp_path / "lab").exists()


def test_failure_domain_labels(redis7: RedisBinary, make_lab: LabFactory) -> None:
    spread = make_lab(redis7, primaries=3, replicas=1, zones=3)
    by_name = {n.name: n for n in spread.nodes}
    for replica in (n for n in spread.nodes if n.role == "replica"):
        primary = next(p for p in by_name.values() if p.role == "primary" and p.shard == replica.shard)
        assert replica.zone != primary.zone and replica.host != primary.host
    colocated = make_lab(redis7, primaries=2, replicas=1, placement="colocated", hosts=2)
    for replica in (n for n in colocated.nodes if n.role == "replica"):
        primary = next(p for p in colocated.nodes if p.role == "primary" and p.shard == replica.shard)
        assert (replica.host, replica.zone) == (primary.host, primary.zone)


def test_down_only_stops_its_own_pids(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, primaries=1, replicas=0)
    node = lab.nodes[0]
    real_pid = node.pid
    node.pid = os.getpid()  # a pid that is alive but is not that node's redis-server
    assert not lab_process.is_running(node)
    lab_process.stop(node)  # must not signal the test process
    node.pid = real_pid
    assert lab_process.is_running(node)


def test_refuses_an_address_in_use(redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab(redis7, primaries=1, replicas=0)
    with pytest.raises(LabError, match="already in use"):
        Lab.up(
            LabSpec(primaries=1, replicas=0, base_ip=lab.nodes[0].ip), name="x", directory=tmp_path / "x", binary=redis7
        )
    assert redis_processes_under(tmp_path / "x") == []


def test_bad_specs() -> None:
    with pytest.raises(LabError, match="loopback"):
        LabSpec(base_ip="10.0.0.1").validate()
    with pytest.raises(LabError):
        LabSpec(primaries=0).validate()


def test_cli_up_status_down(redis_binary: RedisBinary, tmp_path: Path) -> None:
    directory = str(tmp_path / "cli-lab")
    up = rcdoctor(
        "lab",
        "up",
        "--dir",
        directory,
        "-p",
        "3",
        "-r",
        "0",
        "--base-ip",
        next_base_ip(),
        "--redis-server",
        redis_binary.path,
    )
    try:
        assert up.returncode == 0, up.stderr
        # Named as the server it is: "valkey-server 8.1.8" for Valkey, "redis-server 7.0.15" for Redis.
        assert f"{redis_binary.name}-server {redis_binary.version}" in up.stderr + up.stdout
        status = rcdoctor("lab", "status", "--dir", directory, "--format", "json")
        assert status.returncode == 0, status.stderr
        data = json.loads(status.stdout)
        assert data["version"] == redis_binary.version
        assert [n["cluster_state"] for n in data["nodes"]] == ["ok"] * 3
        fault = rcdoctor("lab", "fault", "kill", "n3", "--dir", directory)
        assert fault.returncode == 0, fault.stderr
        listed = rcdoctor("lab", "fault", "list", "--dir", directory, "--format", "json")
        assert [f["op"]["f"] for f in json.loads(listed.stdout)] == ["kill"]
        healed = rcdoctor("lab", "fault", "heal", "--dir", directory)
        assert healed.returncode == 0, healed.stderr
        unknown = rcdoctor("lab", "fault", "explode", "all", "--dir", directory)
        assert unknown.returncode == 3 and unknown.stderr.count("\n") == 1 and "unknown fault" in unknown.stderr
    finally:
        down = rcdoctor("lab", "down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    assert redis_processes_under(tmp_path) == []
    assert not Path(directory).exists()
    again = rcdoctor("lab", "status", "--dir", directory)
    assert again.returncode == 3 and "no lab" in again.stderr and "Traceback" not in again.stderr


def test_password_lab(redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("lab-secret-123\n")
    lab = make_lab(redis7, primaries=3, replicas=1, password_file=str(secret))
    conf = Path(lab.nodes[0].dir) / "redis.conf"
    assert oct(conf.stat().st_mode & 0o777) == "0o600"
    state_text = (Path(lab.state.root) / "lab.json").read_text()
    assert "lab-secret-123" not in state_text
    for pid in (n.pid for n in lab.nodes):
        assert b"lab-secret-123" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert all(cluster_state(lab, n) == "ok" for n in lab.nodes)


def test_down_leaves_no_forked_child_behind(redis_binary: RedisBinary, tmp_path: Path) -> None:
    """A node's BGSAVE / AOF-rewrite child outlives its SIGKILLed parent for a moment; down() waits for it."""
    lab = Lab.up(
        LabSpec(primaries=1, replicas=0, base_ip=next_base_ip()),
        name="t",
        directory=tmp_path / "lab",
        binary=redis_binary,
    )
    try:
        node = lab.nodes[0]
        with lab.client(node) as c:
            c.config_set("rdb-key-save-delay", "200")  # microseconds per key: keeps the child busy
            c.mset({f"{{k}}{i}": "x" for i in range(3000)})
            c.bgsave()
        assert len(redis_processes_under(tmp_path)) == 2  # the node and its BGSAVE child
    finally:
        lab.down()
    assert redis_processes_under(tmp_path) == []
