"""verify: collect, run the checks and probes, print a pass/fail list, save or compare a baseline."""

from __future__ import annotations

from rcdoctor.cli import output
from rcdoctor.cli.common import Target
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, UsageError
from rcdoctor.verify.run import VerifyReport


def run_verify_command(
    t: Target,
    expect_keys: int | None,
    baseline_path: str | None,
    save_baseline: str | None,
    fmt: str,
) -> int:
    from rcdoctor.migrate import session
    from rcdoctor.verify.baseline import Baseline
    from rcdoctor.verify.run import as_json, run_verify

    if expect_keys is not None and baseline_path:
        raise UsageError("--expect-keys and --baseline exclude each other (a baseline has its own count)")
    baseline = Baseline.load(baseline_path) if baseline_path else None  # a bad file fails before any I/O
    snapshot = session.read(t.seeds, t.options)[0]
    log = output.info if fmt == "json" else output.console().print
    report = run_verify(
        snapshot,
        t.options,
        expect_keys,
        baseline,
        bool(save_baseline),
        log,
        recollect=lambda: session.read(t.seeds, t.options)[0],
    )
    if save_baseline and report.digest is not None:
        if report.ok:
            Baseline.now(report.digest).save(save_baseline)
            report.add(
                "baseline saved", True, f"{report.digest.keys} keys, digest {report.digest.total} -> {save_baseline}"
            )
        else:
            report.add("baseline saved", False, "not saved: a baseline of a cluster that fails verify proves nothing")
    if fmt == "json":
        output.emit_json(as_json(report))
    else:
        _show(report)
    return EXIT_OK if report.ok else EXIT_CRITICAL


def _show(report: VerifyReport) -> None:
    console = output.console()
    for result in report.results:
        mark = "[green]pass[/]" if result.ok else "[red]FAIL[/]"
        console.print(f"{mark}  {result.name}: {result.detail}")
    failed = sum(not r.ok for r in report.results)
    console.print(
        "[bold green]verified[/]: every check passed"
        if not failed
        else f"[bold red]not verified[/]: {failed} check(s) failed"
    )
