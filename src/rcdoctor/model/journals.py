"""rcdoctor's own journals of slot moves, as data, and which open slots they explain (pure).

`rebalance`, `reshard`, `remove-node` and `heal` append an `open` line before they set a batch of slots
MIGRATING/IMPORTING and a `closed` (or `cancelled`) line once the slots have their new owner. A run that
was killed (or is still running) leaves `open` lines without a closing one. The reader that lists the
files on this machine is `rcdoctor.execute.journal.local_journals`; everything here works on their
lines, so the same folding serves `--resume` and `diagnose`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# `{command}-{UTC stamp}.jsonl`, as `rcdoctor.execute.journal.new_path` names them
_NAME_RE = re.compile(r"^(?P<command>.+)-\d{8}T\d{6}(?:\.\d+)?Z\.jsonl$")


@dataclass(frozen=True)
class InFlight:
    """Slots a journal opened between two nodes and never recorded as closed."""

    source: str
    target: str
    slots: tuple[int, ...]


@dataclass(frozen=True)
class UnfinishedJournal:
    """A journal on this machine with slots it opened and no later journal closed."""

    path: str
    command: str  # rebalance | reshard | remove-node | heal (from the file name; "rcdoctor" if unknown)
    started: float | None  # the first line's time (unix seconds)
    last_written: float | None
    # The engine wrote `end` after its last `open`: the run finished and left these slots open (a failure
    # it reported). Else it was killed, or it is still running.
    ended: bool
    flights: tuple[InFlight, ...]

    def covering(self, source: str, target: str, slots: Iterable[int]) -> tuple[int, ...]:
        """The given slots this journal opened from `source` to `target`."""
        wanted = set(slots)
        return tuple(
            sorted(s for f in self.flights if (f.source, f.target) == (source, target) for s in f.slots if s in wanted)
        )


@dataclass(frozen=True)
class LocalJournals:
    """What diagnose found in the journal directory of this machine."""

    directory: str
    unfinished: tuple[UnfinishedJournal, ...] = ()
    read: int = 0  # journals read (the newest ones only)
    unreadable: tuple[str, ...] = ()

    def explaining(
        self, source: str, target: str, slots: Iterable[int]
    ) -> tuple[UnfinishedJournal, tuple[int, ...]] | None:
        """The newest unfinished journal that opened some of these slots from `source` to `target`."""
        wanted = tuple(slots)
        for journal in sorted(self.unfinished, key=lambda j: (j.started or 0.0, j.path), reverse=True):
            covered = journal.covering(source, target, wanted)
            if covered:
                return journal, covered
        return None


def command_of(name: str) -> str:
    found = _NAME_RE.match(name)
    return found.group("command") if found else "rcdoctor"


def in_flight(entries: Iterable[Mapping[str, Any]]) -> list[InFlight]:
    """The slots one journal left open, grouped by source -> target pair."""
    owner: dict[int, tuple[tuple[str, str], int]] = {}
    for entry in entries:
        _apply_owned(owner, entry, 0)
    return _grouped({s: pair for s, (pair, _) in owner.items()})


def unfinished(journals: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> tuple[UnfinishedJournal, ...]:
    """Journals (path, lines) folded in the order they were written: a slot a later journal closed is
    closed (`rebalance --resume` and `heal` write their closings into a journal of their own), and a slot
    a later journal opened again belongs to that one."""
    ordered = sorted(journals, key=lambda j: (_first_time(j[1]), j[0]))
    owner: dict[int, tuple[tuple[str, str], int]] = {}
    for index, (_, entries) in enumerate(ordered):
        for entry in entries:
            _apply_owned(owner, entry, index)
    found = []
    for index, (path, entries) in enumerate(ordered):
        mine = {s: pair for s, (pair, i) in owner.items() if i == index}
        if not mine:
            continue
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        found.append(
            UnfinishedJournal(
                path=path,
                command=command_of(name),
                started=_first_time(entries) or None,
                last_written=_last_time(entries),
                ended=_ended(entries),
                flights=tuple(_grouped(mine)),
            )
        )
    return tuple(found)


def stamp(t: float | None) -> str:
    if t is None:
        return "an unknown time"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _slots(entry: Mapping[str, Any]) -> list[int]:
    raw = entry.get("slots", [])
    return [int(s) for s in raw if isinstance(s, int | str) and str(s).isdigit()] if isinstance(raw, list) else []


def _apply_owned(owner: dict[int, tuple[tuple[str, str], int]], entry: Mapping[str, Any], index: int) -> None:
    event = entry.get("event")
    if event == "open":
        for slot in _slots(entry):
            owner[slot] = ((str(entry.get("source")), str(entry.get("target"))), index)
    elif event in ("closed", "cancelled"):
        for slot in _slots(entry):
            owner.pop(slot, None)


def _grouped(opened: Mapping[int, tuple[str, str]]) -> list[InFlight]:
    grouped: dict[tuple[str, str], list[int]] = {}
    for slot, pair in sorted(opened.items()):
        grouped.setdefault(pair, []).append(slot)
    return [InFlight(s, t, tuple(v)) for (s, t), v in grouped.items()]


def _times(entries: Sequence[Mapping[str, Any]]) -> list[float]:
    return [float(e["t"]) for e in entries if isinstance(e.get("t"), int | float) and not isinstance(e.get("t"), bool)]


def _first_time(entries: Sequence[Mapping[str, Any]]) -> float:
    times = _times(entries)
    return times[0] if times else 0.0


def _last_time(entries: Sequence[Mapping[str, Any]]) -> float | None:
    times = _times(entries)
    return times[-1] if times else None


def _ended(entries: Sequence[Mapping[str, Any]]) -> bool:
    last = None
    for entry in entries:
        if entry.get("event") in ("open", "end"):
            last = entry.get("event")
    return last == "end"
