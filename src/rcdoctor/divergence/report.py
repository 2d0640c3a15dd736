"""The divergence file: keys two nodes disagree on, with both copies, kept before one side is dropped.

JSON lines: a header ({"format": "rcdoctor.divergence", "version": 1, "created", "reason", "a", "b"},
where a and b name the two nodes) then one line per key: its name (base64, plus the text when it is
UTF-8), slot, kind (only-a, only-b, differ) and each side's DUMP payload (base64), PTTL and idle time
(OBJECT IDLETIME: seconds since the key was last read or written, null when the server cannot tell) at
the time of reading, or null where that side has no such key. A DUMP payload restores with `RESTORE key ttl
payload` on any Redis of the same or a newer version.

Written to a temporary name, fsynced and renamed, so a file under its final name is always complete;
mode 0600, because it holds the data itself.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rcdoctor.errors import SnapshotError
from rcdoctor.model.key_diff import Copy, KeyDiff
from rcdoctor.model.slots import key_hash_slot

FORMAT = "rcdoctor.divergence"
VERSION = 1


def side(node_id: str, address: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "address": address, **extra}


def write(path: Path, reason: str, a: Mapping[str, Any], b: Mapping[str, Any], diffs: Iterable[KeyDiff]) -> int:
    """Write every diff; returns how many. The file appears under `path` only once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    count = 0
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            header = {"format": FORMAT, "version": VERSION, "created": time.time(), "reason": reason, "a": a, "b": b}
            out.write(json.dumps(header) + "\n")
            for diff in diffs:
                out.write(json.dumps(_entry(diff)) + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return count


def read(path: Path) -> tuple[dict[str, Any], list[KeyDiff]]:
    """(header, diffs); a one-line SnapshotError for anything that is not a complete divergence file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"cannot read divergence file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not lines:
        raise SnapshotError(f"divergence file {path} is empty")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"divergence file {path} does not start with a JSON header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not an rcdoctor divergence file (format {FORMAT!r} expected)")
    if header.get("version") != VERSION:
        raise SnapshotError(
            f"divergence file {path} has version {header.get('version')!r}; this rcdoctor reads {VERSION}"
        )
    diffs = []
    for number, line in enumerate(lines[1:], 2):
        try:
            diffs.append(_diff(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(
                f"divergence file {path} line {number} is damaged ({type(exc).__name__}: {exc})"
            ) from None
    return header, diffs


def key_text(key: bytes) -> str:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return repr(key)


def _entry(diff: KeyDiff) -> dict[str, Any]:
    entry: dict[str, Any] = {"key_b64": _b64(diff.key), "slot": diff.slot, "kind": diff.kind}
    with contextlib.suppress(UnicodeDecodeError):
        entry["key"] = diff.key.decode("utf-8")
    entry["a"] = _copy(diff.a)
    entry["b"] = _copy(diff.b)
    return entry


def _copy(copy: Copy | None) -> dict[str, Any] | None:
    if copy is None:
        return None
    return {"dump_b64": _b64(copy.payload), "pttl": copy.pttl, "idle_s": copy.idle}


def _diff(entry: Any) -> KeyDiff:
    if not isinstance(entry, dict):
        raise TypeError("not an object")
    key = base64.b64decode(entry["key_b64"], validate=True)
    slot = int(entry["slot"])
    if key_hash_slot(key) != slot:
        raise ValueError(f"key in slot {key_hash_slot(key)}, not {slot}")
    diff = KeyDiff(key, slot, _side(entry["a"]), _side(entry["b"]))
    if diff.a is None and diff.b is None:
        raise ValueError("neither side has the key")
    return diff


def _side(value: Any) -> Copy | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("a side is not an object")
    idle = value.get("idle_s")
    return Copy(
        base64.b64decode(value["dump_b64"], validate=True), int(value["pttl"]), None if idle is None else int(idle)
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
