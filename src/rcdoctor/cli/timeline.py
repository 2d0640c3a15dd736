"""`rcdoctor timeline`: glue between the inputs, the pure merge and the text/JSON printers."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from datetime import timezone

from rcdoctor.cli import output
from rcdoctor.errors import EXIT_OK, UsageError
from rcdoctor.lab.logs import lab_sources
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.timeline import Timeline, build, zone
from rcdoctor.timeline.events import short_ids
from rcdoctor.timeline.inputs import parse_when, read_source
from rcdoctor.timeline.merge import Event, Source


def snapshot_addresses(path: str) -> dict[str, str]:
    return addresses_of(Snapshot.load(path))


def addresses_of(snapshot: Snapshot) -> dict[str, str]:
    """node id -> the address the snapshot knows it by (where it answered, else where peers list it)."""
    found: dict[str, str] = {}
    for node in snapshot.answered:
        if node.node_id:
            found[node.node_id] = node.address
    for node in snapshot.answered:
        for entry in node.view.value or ():
            if entry.endpoint is not None:
                found.setdefault(entry.id, str(entry.endpoint))
    return found


def gather(logs: tuple[str, ...], lab: str | None, lab_dir: str | None) -> list[Source]:
    if not logs and lab is None:
        raise UsageError("give log files (`-` for stdin) or --lab NAME")
    if logs.count("-") > 1:
        raise UsageError("`-` (stdin) can be given once")
    sources = [read_source(path) for path in logs]
    if lab is not None:
        sources += lab_sources(lab, lab_dir)
    return sources


def run_timeline(
    logs: tuple[str, ...],
    lab: str | None,
    lab_dir: str | None,
    snapshot: str | None,
    tz_text: str,
    since: str | None,
    until: str | None,
    fold: bool,
    everything: bool,
    fmt: str,
) -> int:
    try:
        tz = zone(tz_text)
    except ValueError as exc:
        raise UsageError(f"--tz: {exc}") from None
    addresses = snapshot_addresses(snapshot) if snapshot else {}
    sources = gather(logs, lab, lab_dir)
    timeline = build(sources, tz, addresses, fold=fold, everything=everything)
    if timeline.parsed == 0:
        raise UsageError(
            f"no Redis/Valkey log line in {len(sources)} input(s) ({timeline.lines} lines read): expected "
            "`PID:ROLE DD Mon YYYY HH:MM:SS.mmm LEVEL message` lines"
        )
    first = timeline.events[0].time if timeline.events else None
    timeline = timeline.between(
        parse_when(since, tz, first, "--since") if since else None,
        parse_when(until, tz, first, "--until") if until else None,
    )
    if fmt == "json":
        output.emit_json(timeline.to_dict())
    else:
        render_text(timeline, tz, _width())
    return EXIT_OK


def _width() -> int | None:
    """Wrap to $COLUMNS or the terminal; on a pipe without COLUMNS lines stay whole (grep-able)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return max(40, int(os.environ["COLUMNS"]))
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def event_line(event: Event, timeline: Timeline, width: int | None, node_width: int, tz: timezone) -> list[str]:
    local = event.time.astimezone(tz)
    clock = local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
    text = short_ids(event.text, timeline.names, event.node_id)
    if event.count > 1 and event.last is not None:
        text += f" (×{event.count} until {event.last.astimezone(tz).strftime('%H:%M:%S')})"
    head = f"{clock} {event.node:<{node_width}} {event.kind:<16} "
    if width is None or len(head) + len(text) <= width:
        return [head + text]
    indent = " " * min(len(head), 30)
    return textwrap.wrap(
        head + text, width=width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
    ) or [head]


def render_text(timeline: Timeline, tz: timezone, width: int | None) -> None:
    node_width = min(20, max((len(e.node) for e in timeline.events), default=4))
    day = None
    out = []
    for event in timeline.events:
        local = event.time.astimezone(tz)
        if local.date() != day:
            day = local.date()
            out.append(f"{day.isoformat()} ({local.strftime('%Z')})")
        out.extend(event_line(event, timeline, width, node_width, tz))
    kinds = timeline.kinds()
    for kind in ("state-fail", "marked-fail", "election-won", "state-ok"):
        if kind in kinds:
            k = kinds[kind]
            span = f"{k.first.astimezone(tz):%H:%M:%S} to {k.last.astimezone(tz):%H:%M:%S}"
            out.append(f"{kind}: {k.events} on {len(k.nodes)} of {len(timeline.nodes)} node(s), {span}")
    nodes = ", ".join(f"{n} {a or (i or '?')[:8]}" for n, i, a in timeline.nodes)
    footer = f"{len(timeline.events)} event(s) from {len(timeline.nodes)} node(s): {nodes}"
    out.extend(textwrap.wrap(footer, width, subsequent_indent="  ", break_on_hyphens=False) if width else [footer])
    sys.stdout.write("\n".join(out) + "\n")
