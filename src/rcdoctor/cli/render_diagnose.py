"""Text rendering of a diagnose Report: root causes first, the symptoms they explain folded under them."""

from __future__ import annotations

import textwrap
from collections import Counter

from rich.console import Console
from rich.text import Text

from rcdoctor.analyze import Report
from rcdoctor.checks.base import Finding

STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan", "ok": "green"}
MARK = {"critical": "✗", "warning": "!", "info": "i", "ok": "✓"}
MAX_NODES = 6
MAX_UNSEEN = 8


def render_report(report: Report, console: Console, expand: bool = False, source: str | None = None) -> None:
    """`source`: the snapshot read (`snapshot F, 3 h old`), so a saved file never reads like a live run."""
    snap = report.snapshot
    origin = f"{source}, collected {snap.collected_at}: " if source else ""
    console.print(
        Text(
            f"rcdoctor diagnose: {origin}{report.answered} node(s) answered, {report.nodes} known, "
            f"{len(snap.nodes)} endpoint(s) dialed in {snap.duration_s:.2f}s"
            f"{'' if source else f' ({snap.collected_at})'}; {len(report.checks)} checks",
            style="bold yellow" if source else "dim",
        )
    )
    roots = [f for f in report.root_causes if f.severity != "info"]
    notes = [f for f in report.root_causes if f.severity == "info"]
    if not roots:
        console.print(Text("✓ healthy: no problem found", style="bold green"))
    else:
        worst = report.worst
        console.print(
            Text(
                f"{worst.upper()}: {len(roots)} root cause(s) explain {len(report.findings) - len(notes)} finding(s)",
                style=STYLE[worst],
            )
        )
    for finding in roots:
        console.print()
        _finding(report, finding, console, indent=0, expand=expand)
    if notes:
        console.print()
        console.print(Text("Notes (info):", style="bold cyan"))
        for finding in notes:
            line = Text(f"  i {finding.code} {finding.check.name}: ", style="cyan")
            line.append(finding.title, style="")
            console.print(line)
    unseen = report.not_seen
    if unseen:
        console.print()
        console.print(Text(f"Not seen ({len(unseen)}): the findings above hold only for the rest", style="bold"))
        for item in unseen[:MAX_UNSEEN]:
            _wrapped(console, "- " + item, "  ", subsequent="    ")
        if len(unseen) > MAX_UNSEEN:
            console.print(Text(f"  … and {len(unseen) - MAX_UNSEEN} more (--format json lists them all)", style="dim"))
    console.print()
    console.print(Text("`rcdoctor explain CODE` for what a code means and how to fix it.", style="dim"))


def _finding(report: Report, finding: Finding, console: Console, indent: int, expand: bool) -> None:
    pad = " " * indent
    head = Text(f"{pad}{MARK[finding.severity]} {finding.code} {finding.check.name} ", style=STYLE[finding.severity])
    basis = ", inferred" if finding.basis == "inferred" else ""
    head.append(f"[{finding.severity}{basis}]" + (" (check could not run)" if finding.crashed else ""), style="dim")
    console.print(head)
    _wrapped(console, finding.title, pad + "  ", style="bold")
    if finding.nodes:
        shown = ", ".join(str(n) for n in finding.nodes[:MAX_NODES])
        more = len(finding.nodes) - MAX_NODES
        _wrapped(console, "nodes: " + shown + (f" and {more} more" if more > 0 else ""), pad + "  ")
    for item in finding.evidence:
        _wrapped(console, "- " + item, pad + "  ", subsequent=pad + "    ")
    if finding.confirm:
        _wrapped(console, "to confirm: " + finding.confirm, pad + "  ", style="cyan", subsequent=pad + "      ")
    _wrapped(console, "fix: " + finding.fix, pad + "  ", style="green", subsequent=pad + "       ")
    children = report.children(finding)
    if not children:
        return
    if expand:
        _wrapped(console, f"explains {len(children)} finding(s):", pad + "  ", style="dim")
        for child in children:
            _finding(report, child, console, indent + 4, expand)
        return
    total = _descendants(report, finding)
    _wrapped(console, f"explains {len(total)} finding(s) (--expand to see them in full):", pad + "  ", style="dim")
    counts = Counter(f.code for f in total)
    firsts: dict[str, Finding] = {}
    for f in total:
        firsts.setdefault(f.code, f)
    for code, count in counts.items():
        first = firsts[code]
        line = f"{code} {first.check.name} x{count}: {first.title}" + (" …" if count > 1 else "")
        _wrapped(console, line, pad + "    ", style=STYLE[first.severity], subsequent=pad + "      ")


def _descendants(report: Report, finding: Finding) -> list[Finding]:
    found = []
    for child in report.children(finding):
        found.append(child)
        found.extend(_descendants(report, child))
    return found


def _wrapped(console: Console, text: str, initial: str, style: str = "", subsequent: str | None = None) -> None:
    width = max(60, (console.width or 100) - 2)
    lines = textwrap.wrap(
        text, width=width, initial_indent=initial, subsequent_indent=subsequent or initial, break_on_hyphens=False
    )
    for line in lines or [initial]:
        console.print(Text(line, style=style))
