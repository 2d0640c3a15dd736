"""collect and status: thin glue between options, the collector and the printer."""

from __future__ import annotations

import sys

from rcdoctor.cli import output
from rcdoctor.cli.common import Target, collect_with_progress, snapshot_for
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, DoctorError
from rcdoctor.transport.failures import nothing_answered


def run_collect(t: Target, destination: str | None) -> int:
    snapshot = collect_with_progress(t, complete=True)  # a snapshot to keep: every reply
    if destination:
        try:
            snapshot.save(destination)  # gzip-compressed when the name ends in .gz
        except OSError as exc:
            raise DoctorError(f"cannot write {destination}: {exc.strerror or exc}") from None
    failed = snapshot.failed
    if not snapshot.answered:
        # One line, nothing on stdout; a file asked for is still written: it is the evidence.
        raise nothing_answered(snapshot, f"; snapshot written to {destination}" if destination else "")
    if not destination:
        sys.stdout.write(snapshot.to_json() + "\n")
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

    snapshot = snapshot_for(t, from_file)
    report = build_status(snapshot)
    if report.answered == 0 and fmt == "text":
        raise nothing_answered(snapshot)
    if fmt == "json":
        data = report.to_dict()
        if from_file:
            data["from_snapshot"] = from_file
        output.emit_json(data)
    else:
        render_status(report, output.console())
        if from_file:
            from rich.text import Text

            note = Text("from " + output.from_snapshot(from_file, snapshot.collected_at), style="bold yellow")
            output.console().print(note)
    return report.exit_code
