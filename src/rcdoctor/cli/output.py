"""One place that prints: Rich on a terminal, plain JSON on request, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # On a pipe Rich assumes 80 columns and folds every cell; tables read better wider there, unless
    # COLUMNS says how wide the reader is (a ticket, a chat window, `COLUMNS=80 rcdoctor status | …`).
    width = columns() or (None if stream.isatty() else 160)
    # emoji=False: Rich would otherwise turn `cluster_state:ok` into an emoji.
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width, emoji=False)


def columns() -> int | None:
    """$COLUMNS when set to a sensible width, else None."""
    import os

    value = os.environ.get("COLUMNS", "")
    return max(40, min(int(value), 1000)) if value.isdigit() else None


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def error(message: str) -> None:
    """One line on stderr, nothing else (no traceback unless --debug)."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"rcdoctor: error: {text}\n")


def info(message: str) -> None:
    sys.stderr.write(message + "\n")


def age(collected_at: str, now: datetime) -> str:
    """How old a snapshot is, in words: `3 h 12 min`."""
    try:
        then = datetime.fromisoformat(collected_at.replace("Z", "+00:00"))
    except ValueError:
        return "of unknown age"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return "from the future (clock skew)"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or f"{secs} s"


def from_snapshot(path: str, collected_at: str, now: datetime | None = None) -> str:
    """How output says it reads a saved snapshot, not a live cluster: `snapshot F, 3 h 12 min old`."""
    return f"snapshot {path}, {age(collected_at, now or datetime.now(UTC))} old"
