"""collect and status: thin glue between options, the collector and the printer."""

from __future__ import annotations

import sys
from pathlib import Path

from rcdoctor.cli import output
from rcdoctor.cli.common import Target
from rcdoctor.collect.connection import nothing_answered
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, DoctorError
from rcdoctor.model.snapshot import Snapshot


def collect_with_progress(t: Target) -> Snapshot:
    from rcdoctor.collect import collect

    if not sys.stderr.isatty():
        return collect(t.seeds, t.options)
    from rich.status import Status

    with Status("collecting…", console=output.console(stderr=True)) as status:
        return collect(
            t.seeds, t.options, progress=lambda done, known: status.update(f"collecting… {done}/{known} nodes")
        )


def run_collect(t: Target, destination: str | None) -> int:
    snapshot = collect_with_progress(t)
    text = snapshot.to_json()
    if destination:
        try:
            Path(destination).write_text(text + "\n")
        except OSError as exc:
            raise DoctorError(f"cannot write {destination}: {exc.strerror or exc}") from None
    failed = snapshot.failed
    if not snapshot.answered:
        # One line, nothing on stdout; a file asked for is still written: it is the evidence.
        raise nothing_answered(snapshot, f"; snapshot written to {destination}" if destination else "")
    if not destination:
        sys.stdout.write(text + "\n")
    summary = (
        f"collected {len(snapshot.nodes)} endpoint(s) in {snapshot.duration_s:.2f}s: "
        f"{len(snapshot.answered)} answered, {len(failed)} did not"
    )
    if failed:
        names = [f"{n.address} {n.error.kind if n.error else 'no reply'}" for n in failed[:5]]
        summary += " (" + ", ".join(names) + (" …" if len(failed) > 5 else "") + ")"
    if destination:
        summary += f" → {destination}"
    output.info(summary)
    return EXIT_OK if not failed else EXIT_CRITICAL


def run_status(t: Target | None, fmt: str, from_file: str | None) -> int:
    from rcdoctor.cli.render import render_status
    from rcdoctor.status import build_status

    snapshot = Snapshot.load(from_file) if from_file else collect_with_progress(t)  # type: ignore[arg-type]
    report = build_status(snapshot)
    if report.answered == 0 and fmt == "text":
        raise nothing_answered(snapshot)
    if fmt == "json":
        output.emit_json(report.to_dict())
    else:
        render_status(report, output.console())
    return report.exit_code
