"""Snapshot JSON: round trip of real recordings, and every kind of bad file refused with a clear error."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import DATA

from rcdoctor.errors import SnapshotError
from rcdoctor.model.snapshot import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, Snapshot

RECORDED = sorted(DATA.glob("*.json"))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_recorded_snapshots_round_trip(path: Path) -> None:
    snapshot = Snapshot.load(path)
    again = Snapshot.from_json(snapshot.to_json())
    assert again.to_dict() == snapshot.to_dict()
    assert again.nodes[0].view == snapshot.nodes[0].view


def test_recorded_snapshot_holds_what_the_issue_lists() -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    node = snapshot.answered[0]
    for key in ("CLUSTER NODES", "CLUSTER INFO", "INFO", "CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER LINKS"):
        assert key in node.replies, key
    for section in ("server", "replication", "persistence", "keyspace", "clients"):
        assert section in node.info, section
    assert node.config["cluster-node-timeout"] == "2000" and node.config["appendonly"] == "yes"
    assert node.data_port is not None and node.data_port.ok and node.data_port.latency_ms is not None
    assert node.bus_port is not None and node.bus_port.ok and node.bus_port_number == 16379
    six = Snapshot.load(DATA / "healthy-redis6.json").answered[0]
    assert "CLUSTER SHARDS" in six.reply_errors  # 6.2 has no CLUSTER SHARDS: recorded, not fatal
    assert six.error is None and six.version is not None and six.version.startswith("6.2")


def test_no_secret_config_is_kept() -> None:
    for path in RECORDED:
        text = path.read_text()
        assert "requirepass" not in text and "masterauth" not in text


def _valid() -> dict[str, object]:
    return json.loads((DATA / "healthy-redis6.json").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="something-else"), "format"),
        (lambda d: d.update(version=99), "version 99 is not supported"),
        (lambda d: d.pop("nodes"), "nodes is missing"),
        (lambda d: d.update(nodes="x"), "nodes has the wrong type"),
        (lambda d: d["nodes"][0].update(address=5), r"nodes\[0\].address has the wrong type"),
        (lambda d: d["nodes"][0].update(address="no-port:x"), "is not host:port"),
        (lambda d: d["nodes"][1].update(replies=[]), r"nodes\[1\].replies"),
        (lambda d: d["nodes"][0]["data_port"].update(ok="yes"), "data_port.ok"),
        (lambda d: d.update(duration_s=True), "duration_s"),
        (lambda d: d["nodes"][0].update(reply_errors={"X": 1}), "reply_errors"),
    ],
)
def test_malformed_snapshots_are_refused_with_the_path(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _valid()
    mutate(data)
    with pytest.raises(SnapshotError, match=message):
        Snapshot.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "content", [b"", b"{", b"\xff\xfe garbage", b"[1,2]", b"null", b'{"format": 1}', b"[" * 100_000]
)
def test_garbage_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotError) as info:
        Snapshot.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read"):
        Snapshot.load(tmp_path / "nope.json")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["format", "version", "nodes", "seeds", "collected_at", "duration_s", "timeout_s", "dns"]),
        st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),
    )
)
def test_random_objects_never_crash_the_loader(data: dict[str, object]) -> None:
    data.setdefault("format", SNAPSHOT_FORMAT)
    data.setdefault("version", SNAPSHOT_VERSION)
    with contextlib.suppress(SnapshotError):
        Snapshot.from_json(json.dumps(data))


def test_error_kinds_map_to_the_exception_tree() -> None:
    from rcdoctor.errors import AuthError, ConnectError, DoctorError, NotClusterError, TLSError
    from rcdoctor.transport.errors import error_for

    assert isinstance(error_for("auth", "x"), AuthError)
    assert isinstance(error_for("tls", "x"), TLSError)
    assert isinstance(error_for("not-cluster", "x"), NotClusterError)
    refused = error_for("refused", "x")
    assert type(refused) is ConnectError and isinstance(refused, DoctorError) and refused.exit_code == 3
