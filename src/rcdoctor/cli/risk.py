"""risk: glue between options, the collector, the risk analysis and the printer."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rcdoctor.cli import output
from rcdoctor.cli.common import Target, analysis_settings, snapshot_for, with_source_domains
from rcdoctor.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING, UsageError
from rcdoctor.model.view import ClusterView
from rcdoctor.risk.analysis import DOWN, FAILOVER, RiskReport

EXIT = {"ok": EXIT_OK, "warning": EXIT_WARNING, "critical": EXIT_CRITICAL}


def run_risk(t: Target | None, from_file: str | None, domains_file: tuple[str, ...], pairs: bool, fmt: str) -> int:
    from rcdoctor.risk.analysis import analyze_risk
    from rcdoctor.transport.failures import nothing_answered

    settings = analysis_settings(domains_file)
    snapshot = snapshot_for(t, from_file)
    settings = with_source_domains(settings, snapshot)  # k8s sources' zones when --domains gave none
    if not snapshot.answered:
        raise nothing_answered(snapshot)
    ctx = ClusterView(snapshot, settings)
    if not ctx.slot_primaries:
        raise UsageError("no slot-owning primary found: nothing to analyze (is the cluster created?)")
    report = analyze_risk(ctx, pairs=pairs)
    if fmt == "json":
        data = report.to_dict()
        if from_file:
            data["from_snapshot"] = from_file
        output.emit_json(data)
    else:
        if from_file:
            from rich.text import Text

            note = "risk of " + output.from_snapshot(from_file, snapshot.collected_at)
            output.console().print(Text(note, style="bold yellow"))
        render(report, ctx, output.console())
    return EXIT[report.worst]


def render(report: RiskReport, ctx: ClusterView, console: Console) -> None:
    parity = "even" if report.primaries % 2 == 0 else "odd"
    console.print(
        f"[bold]{report.primaries} primaries ({parity})[/], {len(report.domains)} failure domain(s); a failover "
        f"needs {report.quorum} primaries: up to {report.tolerance} may be lost at once."
    )
    table = Table(title="If a failure domain is lost", show_lines=False)
    for column in ("lost", "nodes", "primaries lost", "majority left", "outcome", "slots down", "what happens"):
        table.add_column(column)
    colour = {DOWN: "red", FAILOVER: "yellow"}
    for loss in report.losses:
        what = []
        for primary in loss.shards_without_copy:
            what.append(f"shard {ctx.name(primary)}: every copy lost")
        for t in loss.takeovers:
            names = ", ".join(ctx.name(c) for c in t.candidates) or "no replica left"
            what.append(f"shard {ctx.name(t.shard)} -> {names}" if t.wins else f"shard {ctx.name(t.shard)}: {t.reason}")
        if not what and loss.replicas_lost:
            what.append(f"{len(loss.replicas_lost)} replica(s) lost, no failover needed")
        style = colour.get(loss.outcome, "green")
        table.add_row(
            " + ".join(loss.domains),
            str(len(loss.nodes)),
            f"{len(loss.primaries_lost)} of {report.primaries}",
            "yes" if loss.majority else "[red]no[/]",
            f"[{style}]{loss.outcome}[/]",
            str(loss.slots_down),
            "\n".join(what) or "-",
        )
    console.print(table)
    for primary, domain in report.shared_domains:
        console.print(f"[yellow]shard {ctx.name(primary)} has two or more copies in {domain}[/]")
    console.print(f"[bold]Write-loss bound[/]: {report.write_loss.bound_ms} ms — {report.write_loss.explanation}.")
    if report.recommendations:
        console.print("[bold]Recommendations[/]")
        for rec in report.recommendations:
            console.print(f"- {rec.text}", markup=False, highlight=False)
            if rec.command:
                console.print(f"    {rec.command}", markup=False, highlight=False)
    console.print(f"worst single-domain outcome: {report.worst}")
