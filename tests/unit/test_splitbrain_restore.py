"""split-brain restore's choice, document and exit code from a divergence file (pure: nothing applied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcdoctor.divergence import report
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING, UsageError
from rcdoctor.model.key_diff import Copy, KeyDiff
from rcdoctor.model.slots import key_hash_slot
from rcdoctor.splitbrain.restore import Applied, prepare

OLD, NEW = Copy(b"\x00old", -1), Copy(b"\x00new", -1)


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "split-brain.jsonl"
    diffs = [
        KeyDiff(
            b"minority-only", key_hash_slot("minority-only"), OLD, None
        ),  # acknowledged by the cut-off primary only
        KeyDiff(b"both", key_hash_slot("both"), OLD, NEW),  # written on both sides: a human decides
        KeyDiff(b"majority-only", key_hash_slot("majority-only"), None, NEW),
    ]
    report.write(path, "test", {"address": "a:1"}, {"address": "b:1"}, diffs)
    return path


def test_by_default_only_the_minority_keys_are_chosen_and_the_conflict_is_left(tmp_path: Path) -> None:
    chosen = prepare(_file(tmp_path))
    assert [d.key for d in chosen.choice.restore] == [b"minority-only"]
    document = chosen.to_dict()
    assert (document["format"], document["version"]) == ("rcdoctor.split-brain-restore", 1)
    assert document["to_restore"] == 1 and document["conflicts"] == ["both"] and document["applied"] is False
    assert document["skipped"][0]["key"] == "majority-only" and "restored" not in document
    assert chosen.exit_code == EXIT_WARNING  # a conflict waits for a decision
    assert chosen.created > 0 and chosen.replace == set()


def test_a_named_conflict_is_restored_only_with_overwrite(tmp_path: Path) -> None:
    path = _file(tmp_path)
    assert prepare(path, ["both"]).choice.restore == []
    chosen = prepare(path, ["both"], overwrite_conflicts=True)
    assert [d.key for d in chosen.choice.restore] == [b"both"] and chosen.replace == {b"both"}
    assert chosen.exit_code == EXIT_OK
    with pytest.raises(UsageError, match="needs the keys named"):
        prepare(path, overwrite_conflicts=True)


def test_what_happened_decides_the_exit_code(tmp_path: Path) -> None:
    chosen = prepare(_file(tmp_path), ["minority-only"])
    chosen.done = Applied(restored=[b"minority-only"])
    assert chosen.exit_code == EXIT_OK and chosen.to_dict()["restored"] == 1
    chosen.done = Applied(busy=[b"minority-only"])  # written meanwhile: left alone
    assert chosen.exit_code == EXIT_WARNING and chosen.to_dict()["busy"] == ["minority-only"]
    chosen.done = Applied(failed=[(b"minority-only", "ERR")])
    assert chosen.exit_code == EXIT_CRITICAL
    assert chosen.to_dict()["failed"] == [{"key": "minority-only", "error": "ERR"}]
