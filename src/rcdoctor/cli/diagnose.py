"""diagnose and explain: glue between options, the collector, the analyzer and the printers."""

from __future__ import annotations

from collections.abc import Iterable

from rcdoctor.cli import output
from rcdoctor.cli.common import Target, analysis_settings
from rcdoctor.errors import EXIT_OK, UsageError
from rcdoctor.model.snapshot import Snapshot


def _selectors(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def run_diagnose(
    t: Target | None,
    fmt: str,
    from_file: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    domains_file: tuple[str, ...],
    expand: bool,
) -> int:
    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.cli.commands import collect_with_progress
    from rcdoctor.cli.render_diagnose import render_report
    from rcdoctor.collect.connection import nothing_answered

    registry = default_registry()
    chosen, dropped = _selectors(select), _selectors(ignore)
    unknown = registry.validate_selectors([*chosen, *dropped])
    if unknown:
        raise UsageError(f"unknown check code, name or family: {', '.join(unknown)} (see `rcdoctor explain`)")
    checks = registry.select(chosen, dropped)
    if not checks:
        raise UsageError("--select/--ignore leave no check to run")
    settings = analysis_settings(domains_file)
    if from_file is None and t is None:
        raise UsageError("give seed addresses or --from SNAPSHOT")
    snapshot = Snapshot.load(from_file) if from_file else collect_with_progress(t)  # type: ignore[arg-type]
    report = analyze(snapshot, registry, checks, settings)
    if report.answered == 0:
        raise nothing_answered(snapshot)
    if fmt == "json":
        output.emit_json(report.to_dict())
    else:
        render_report(report, output.console(), expand=expand)
    return report.exit_code


def run_explain(code: str | None, fmt: str) -> int:
    from rcdoctor.checks import default_registry
    from rcdoctor.checks.docs import check_doc, check_summary

    registry = default_registry()
    if code is None:
        if fmt == "json":
            output.emit_json([check_summary(c) for c in registry])
        else:
            for check in registry:
                output.console().print(
                    f"{check.code}  {check.name:<30} {check.severity:<8} {check.summary}", markup=False
                )
        return EXIT_OK
    found = registry.get(code)
    if found is None:
        raise UsageError(f"no check {code!r} (see `rcdoctor explain` for the list)")
    if fmt == "json":
        output.emit_json(check_summary(found, full=True))
    else:
        output.console().print(check_doc(found, registry), markup=False)
    return EXIT_OK
