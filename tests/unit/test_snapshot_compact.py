"""Big-cluster snapshots: gzip-compressed files read and written transparently, version-1 files still
read, identical replies shared in memory, and every view's lines parsed once (issue 17)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import DATA

from rcdoctor.errors import EXIT_CANNOT_RUN, SnapshotError
from rcdoctor.model import snapshot_reader
from rcdoctor.model.cluster_nodes import parse_cluster_nodes
from rcdoctor.model.snapshot import CLUSTER_SLOTS, SNAPSHOT_VERSION, Snapshot

RECORDED = sorted(DATA.glob("*.json"))


def test_recorded_files_are_version_1_and_still_read() -> None:
    # Every recorded snapshot was written by an older rcdoctor: version 1, plain JSON.
    for path in RECORDED:
        assert json.loads(path.read_text())["version"] == 1 == SNAPSHOT_VERSION
        assert Snapshot.load(path).nodes


@pytest.mark.parametrize("path", RECORDED[:6], ids=lambda p: p.stem)
def test_gzip_file_reads_as_the_plain_one(path: Path, tmp_path: Path) -> None:
    snapshot = Snapshot.load(path)
    packed = tmp_path / "bundle.json.gz"
    snapshot.save(packed)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert Snapshot.load(packed).to_dict() == snapshot.to_dict()
    # Told by its bytes, not its name: a compressed file under a plain name reads too.
    renamed = tmp_path / "bundle.json"
    renamed.write_bytes(packed.read_bytes())
    assert Snapshot.load(renamed).to_dict() == snapshot.to_dict()
    plain = tmp_path / "plain.json"
    snapshot.save(plain)
    assert json.loads(plain.read_text()) == snapshot.to_dict()


def test_gzip_written_twice_is_the_same_bytes(tmp_path: Path) -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    snapshot.save(tmp_path / "a.json.gz")
    snapshot.save(tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_broken_gzip_is_one_clear_error(tmp_path: Path) -> None:
    good = gzip.compress((DATA / "healthy-redis7.json").read_bytes())
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(SnapshotError, match="unreadable gzip data"):
        Snapshot.load(broken)
    garbage = tmp_path / "garbage.json.gz"
    garbage.write_bytes(gzip.compress(b"\xff\xfe not text"))
    with pytest.raises(SnapshotError, match="not UTF-8"):
        Snapshot.load(garbage)


def test_diagnose_from_broken_gzip_exits_3(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress((DATA / "healthy-redis7.json").read_bytes())[:100])
    done = subprocess.run(
        [sys.executable, "-m", "rcdoctor", "diagnose", "--from", str(broken)], capture_output=True, text=True
    )
    assert done.returncode == EXIT_CANNOT_RUN
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "unreadable gzip data" in err[0], done.stderr


def test_diagnose_from_gzip_is_diagnose_from_json(tmp_path: Path) -> None:
    packed = tmp_path / "bundle.json.gz"
    Snapshot.load(DATA / "scenario-slot_damage-redis7.json").save(packed)
    runs = [
        subprocess.run(
            [sys.executable, "-m", "rcdoctor", "diagnose", "--from", str(path), "--format", "json"],
            capture_output=True,
            text=True,
        )
        for path in (DATA / "scenario-slot_damage-redis7.json", packed)
    ]
    assert runs[0].returncode == runs[1].returncode == 2
    assert json.loads(runs[0].stdout)["findings"] == json.loads(runs[1].stdout)["findings"]


def test_identical_cluster_slots_replies_are_one_object() -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    replies = [n.replies[CLUSTER_SLOTS] for n in snapshot.answered]
    groups = {json.dumps(r) for r in replies}
    assert len({id(r) for r in replies}) == len(groups) < len(replies)
    assert len({id(n.slots) for n in snapshot.answered}) == len(groups)  # parsed once per distinct reply


def test_a_line_every_view_has_is_one_object_without_its_times() -> None:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    a, b = snapshot.answered[:2]
    peer = next(e for e in a.view.value if not e.is_myself and e.id != b.node_id)
    same = next(e for e in b.view.value if e.id == peer.id)
    assert same is peer  # parsed once, though the two views give it other ping/pong times
    assert not hasattr(peer, "pong_recv")


def test_line_with_unreadable_times_is_refused_even_when_its_twin_was_read() -> None:
    good = "abc 1.2.3.4:6379@16379 master - 0 1 3 connected 0-5"
    parsed = parse_cluster_nodes(good + "\n" + good.replace(" 0 1 ", " x 1 ") + "\n")
    assert len(parsed.value) == 1 and parsed.errors and "line 2" in parsed.errors[0]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_read_a_piece_at_a_time_is_reading_whole(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny windows cut every string, number and escape of the recorded files somewhere.
    monkeypatch.setattr(snapshot_reader, "CHUNK", chunk)
    for path in RECORDED[:: 1 if chunk > 64 else 10]:
        assert Snapshot.load(path).to_dict() == Snapshot.from_json(path.read_text()).to_dict(), path.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "rcdoctor.snapshot", "version": 1, "nodes": [{"address": ', "not valid JSON"),
        ('{"format": "rcdoctor.snapshot", "version": 1} trailing', "not valid JSON"),
        ("[1, 2]", "top level is not an object"),
        ('{"format": "rcdoctor.snapshot", "version": 1, "nodes": [] ', "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_a_file_read_in_pieces_fails_as_a_whole_one(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SnapshotError, match=message) as plain:
        Snapshot.load(path)
    with pytest.raises(SnapshotError) as whole:
        Snapshot.from_json(text)
    assert str(plain.value) == f"{path}: {whole.value}"
