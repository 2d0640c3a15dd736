"""The divergence file: what a salvage or a split-brain diff keeps must read back exactly, and anything
else is refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcdoctor.divergence import report
from rcdoctor.errors import SnapshotError
from rcdoctor.model.key_diff import Copy, KeyDiff
from rcdoctor.model.slots import key_hash_slot

copies = st.one_of(st.none(), st.builds(Copy, st.binary(min_size=0, max_size=40), st.integers(-1, 10**9)))


@st.composite
def diffs(draw: st.DrawFn) -> KeyDiff:
    key = draw(st.binary(min_size=1, max_size=30))
    a, b = draw(copies), draw(copies)
    if a is None and b is None:
        a = Copy(b"x" * 12, -1)
    return KeyDiff(key, key_hash_slot(key), a, b)


@settings(max_examples=60, deadline=None)
@given(st.lists(diffs(), max_size=20))
def test_every_key_and_both_copies_read_back_exactly(
    tmp_path_factory: pytest.TempPathFactory, found: list[KeyDiff]
) -> None:
    path = tmp_path_factory.mktemp("div") / "d.jsonl"
    a, b = report.side("a" * 40, "127.0.0.1:1"), report.side("b" * 40, "127.0.0.1:2")
    written = report.write(path, "test", a, b, found)
    header, back = report.read(path)
    assert written == len(found) and back == found
    assert header["a"]["address"] == "127.0.0.1:1" and header["reason"] == "test"
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the data itself
    assert not list(path.parent.glob("*.partial"))


def test_kinds_name_which_side_has_the_key() -> None:
    one = Copy(b"v" * 12, -1)
    assert KeyDiff(b"k", key_hash_slot(b"k"), one, None).kind == "only-a"
    assert KeyDiff(b"k", key_hash_slot(b"k"), None, one).kind == "only-b"
    assert KeyDiff(b"k", key_hash_slot(b"k"), one, Copy(b"w" * 12, 5)).kind == "differ"
    # The same value read from two Redis versions differs only in the 10-byte trailer (RDB version, CRC).
    assert Copy(b"payload" + b"\x0a\x00" + b"1" * 8, -1).same_value(Copy(b"payload" + b"\x09\x00" + b"2" * 8, -1))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("not json\n", "does not start with a JSON header"),
        ('{"format": "rcdoctor.baseline", "version": 1}\n', "not an rcdoctor divergence file"),
        ('{"format": "rcdoctor.divergence", "version": 9}\n', "has version 9"),
        ('{"format": "rcdoctor.divergence", "version": 1}\n{"key_b64": "!!", "slot": 1}\n', "line 2 is damaged"),
        (
            '{"format": "rcdoctor.divergence", "version": 1}\n'
            + json.dumps({"key_b64": "YQ==", "slot": 1, "a": None, "b": {"dump_b64": "eA==", "pttl": -1}})
            + "\n",
            "line 2 is damaged (ValueError: key in slot 15495, not 1)",
        ),
    ],
)
def test_garbage_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(content)
    with pytest.raises(SnapshotError) as caught:
        report.read(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read divergence file"):
        report.read(tmp_path / "nope.jsonl")
