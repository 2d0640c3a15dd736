"""`rcdoctor report`: the diagnosis, status, heal plan and timeline of one collection as one page."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rcdoctor.cli import output
from rcdoctor.cli.common import Target, analysis_settings
from rcdoctor.errors import DoctorError, UsageError
from rcdoctor.model.snapshot import Snapshot

if TYPE_CHECKING:
    from rcdoctor.model.view import ClusterView
    from rcdoctor.plan.steps import HealPlan
    from rcdoctor.report.page import JournalCard


def log_paths(values: tuple[str, ...]) -> list[str]:
    """--logs values: files, `-`, or directories (every *.log in them, sorted)."""
    paths: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part != "-" and Path(part).is_dir():
                found = sorted(str(p) for p in Path(part).glob("*.log"))
                if not found:
                    raise UsageError(f"--logs {part}: no *.log file in that directory")
                paths.extend(found)
            else:
                paths.append(part)
    return paths


def run_report(
    t: Target | None,
    from_file: str | None,
    destination: str | None,
    fmt: str,
    with_plan: bool,
    logs: tuple[str, ...],
    domains_file: tuple[str, ...],
    tz_text: str,
    journal_path: str | None = None,
) -> int:
    from rcdoctor.cli.common import collect_with_progress
    from rcdoctor.cli.diagnose import diagnosis
    from rcdoctor.cli.timeline import addresses_of
    from rcdoctor.report import build_page, render
    from rcdoctor.status import build_status
    from rcdoctor.timeline import build, zone
    from rcdoctor.timeline.inputs import read_source

    if from_file is None and t is None:
        raise UsageError("give seed addresses or --from SNAPSHOT")
    try:
        tz = zone(tz_text)
    except ValueError as exc:
        raise UsageError(f"--tz: {exc}") from None
    base = analysis_settings(domains_file)
    sources = [read_source(p) for p in log_paths(logs)]  # read first: a bad path fails before collecting
    journal = _journal(journal_path) if journal_path else None
    now = datetime.now(UTC)
    if from_file:
        snapshot = Snapshot.load(from_file)
        where = output.from_snapshot(from_file, snapshot.collected_at, now)
    else:
        assert t is not None  # checked above: seeds or --from
        snapshot = collect_with_progress(t)
        where = "collected live for this report"
    report, ctx = diagnosis(snapshot, base)
    plan = None
    if with_plan:
        plan = _plan(snapshot, ctx, None if from_file else t)
        if from_file:
            where += "; heal plan from the snapshot alone (no key counts read)"
    timeline = build(sources, tz, addresses_of(snapshot)) if sources else None
    page = build_page(report, build_status(snapshot), ctx, where, plan, timeline, now, journal)
    text = render(page, "html" if fmt == "html" else "markdown")
    if destination and destination != "-":
        _write(destination, text, f"{page.header.verdict}, exit {report.exit_code}")
    else:
        sys.stdout.write(text)
    return report.exit_code


def _journal(path: str) -> JournalCard:
    from rcdoctor.execute.journal import read
    from rcdoctor.report.page import journal_lines

    return journal_lines(path, list(read(Path(path))))


def _write(destination: str, text: str, verdict: str) -> None:
    try:
        Path(destination).write_text(text)
    except OSError as exc:
        raise DoctorError(f"cannot write {destination}: {exc.strerror or exc}") from None
    output.info(f"report written to {destination} ({len(text.encode()) // 1024 + 1} KiB): {verdict}")


def _plan(snapshot: Snapshot, ctx: ClusterView, t: Target | None) -> HealPlan:
    from rcdoctor.heal.session import plan_for
    from rcdoctor.plan.heal import Facts, Flags, plan

    if t is None:
        # Offline: what the snapshot alone tells (the live run also counts keys in open/uncovered slots).
        return plan(ctx, Facts(), Flags())
    return plan_for(snapshot, t.options, Flags())
