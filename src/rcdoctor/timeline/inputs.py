"""Reading logs: files and `-` (stdin); the lab reads its node logs with read_lines (lab/logs.py).

Bounded, so /dev/zero or a 10 GB file cannot hang or exhaust memory: lines are cut at MAX_LINE bytes, an
input at MAX_BYTES."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, time, timezone
from pathlib import Path
from typing import BinaryIO

from rcdoctor.errors import DoctorError, UsageError
from rcdoctor.timeline.merge import Source

MAX_LINE = 64 * 1024  # a server line is < 1 KB; a longer one is not a log line worth reading whole
MAX_BYTES = 2 * 1024**3


class InputTooLarge(DoctorError):
    pass


def read_lines(stream: BinaryIO, name: str, limit: int) -> Iterator[str]:
    read = 0
    while True:
        chunk = stream.readline(MAX_LINE)
        if not chunk:
            return
        read += len(chunk)
        if read > limit:
            raise InputTooLarge(f"{name}: more than {limit // 1024**2} MiB of log; cut it (e.g. with tail) first")
        if not chunk.endswith(b"\n") and len(chunk) == MAX_LINE:
            # the rest of an over-long line: skipped, the line still counts as read (and is no log line)
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(MAX_LINE)
                read += len(chunk)
                if read > limit:
                    raise InputTooLarge(f"{name}: more than {limit // 1024**2} MiB of log or no line breaks")
            yield ""
            continue
        yield chunk.decode("utf-8", errors="replace")


def read_source(path: str, limit: int = MAX_BYTES) -> Source:
    """An input, checked now (a missing file fails before anything else runs) and read as the merge
    goes: only its events are kept in memory, not its lines. Stdin is read at once."""
    if path == "-":
        return Source("-", list(read_lines(sys.stdin.buffer, "stdin", limit)))
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{path}: is a directory (give the log files, e.g. {path}/*.log)")
    try:
        target.open("rb").close()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return Source(path, _file_lines(target, limit))


def _file_lines(path: Path, limit: int) -> Iterator[str]:
    try:
        with path.open("rb") as stream:
            yield from read_lines(stream, str(path), limit)
    except OSError as exc:  # gone or unreadable between the check and the read
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_when(value: str, tz: timezone, first: datetime | None, option: str) -> datetime:
    """An ISO-8601 time (`2026-12-02T05:36:32`, with or without zone) or a time of day `HH:MM[:SS]`
    on the day of the first event."""
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
        return when if when.tzinfo else when.replace(tzinfo=tz)
    except ValueError:
        pass
    try:
        day_time = time.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {value!r}: not a time (use ISO-8601, e.g. 2026-12-02T05:36:32, or HH:MM:SS)"
        ) from None
    base = (first or datetime.now(tz)).astimezone(tz)
    return datetime.combine(base.date(), day_time, tzinfo=day_time.tzinfo or tz)
