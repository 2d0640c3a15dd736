"""diagnose and explain: glue between options, the collector, the analyzer and the printers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rcdoctor.cli import output
from rcdoctor.cli.common import Target, analysis_settings, snapshot_for, with_source_domains
from rcdoctor.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from rcdoctor.analyze import Report
    from rcdoctor.checks.base import Check
    from rcdoctor.model.snapshot import Snapshot
    from rcdoctor.model.view import AnalysisSettings, ClusterView


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
    from rcdoctor.checks import default_registry

    registry = default_registry()
    chosen, dropped = _selectors(select), _selectors(ignore)
    unknown = registry.validate_selectors([*chosen, *dropped])
    if unknown:
        raise UsageError(f"unknown check code, name or family: {', '.join(unknown)} (see `rcdoctor explain`)")
    checks = registry.select(chosen, dropped)
    if not checks:
        raise UsageError("--select/--ignore leave no check to run")
    settings = analysis_settings(domains_file)  # a bad --domains file fails before anything is dialled
    snapshot = snapshot_for(t, from_file)
    report, _ = diagnosis(snapshot, settings, checks)
    source = output.from_snapshot(from_file, snapshot.collected_at) if from_file else None
    if fmt == "json":
        data = report.to_dict()
        if from_file:
            data["from_snapshot"] = from_file
        output.emit_json(data)
    else:
        from rcdoctor.cli.render_diagnose import render_report  # Rich: a third of start-up, text only

        render_report(report, output.console(), expand=expand, source=source)
    return report.exit_code


def diagnosis(
    snapshot: Snapshot, settings: AnalysisSettings, checks: Iterable[Check] | None = None
) -> tuple[Report, ClusterView]:
    """The analysis diagnose prints (and report lays out), with the ClusterView it ran on: the failure
    domains of --domains, else of the snapshot's k8s sources, and this machine's journals. 'Nothing
    answered' is an error (exit 3). The ClusterView is returned for the report to read the same views."""
    from rcdoctor.analyze import analyze
    from rcdoctor.checks import default_registry
    from rcdoctor.execute.journal import local_journals
    from rcdoctor.model.view import ClusterView
    from rcdoctor.transport.failures import nothing_answered

    settings = with_source_domains(settings, snapshot)  # k8s sources' zones when --domains gave none
    # rcdoctor's own journals on this machine, so S004 can name the run that left slots open (read here,
    # at the edge: the checks stay pure). Node ids are random per node, so a journal of another cluster
    # never matches.
    settings = replace(settings, journals=local_journals())
    ctx = ClusterView(snapshot, settings)
    report = analyze(snapshot, default_registry(), checks, settings, context=ctx)
    if report.answered == 0:
        raise nothing_answered(snapshot)
    return report, ctx


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
