"""Text rendering of reports with Rich tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rcdoctor.model.slots import count_slots, format_ranges
from rcdoctor.status import StatusReport

if TYPE_CHECKING:
    from rich.console import Console

HEALTH_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red"}


def render_status(report: StatusReport, console: Console) -> None:
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for column in ("id", "address", "role", "primary", "slots", "state", "epoch", "links", "flags", "keys"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "role", "primary", "epoch", "links"))
    for row in report.rows:
        style = HEALTH_STYLE[row.health]
        addresses = [f"{row.answered_at}" if row.answered_at else ""]
        if row.advertised_at and row.advertised_at != row.answered_at:
            addresses.append(f"[red]advertises {row.advertised_at}[/red]")
        addresses += [f"[dim]listed at {a}[/dim]" for a, _ in row.listed_at if a != row.answered_at]
        slots = f"{format_ranges(row.slots)} ({count_slots(row.slots)})" if row.slots else "-"
        epoch = (
            "-"
            if row.config_epoch is None
            else f"{row.config_epoch}/{row.current_epoch if row.current_epoch is not None else '?'}"
        )
        links = f"{row.links[0]}/{row.links[1]}" if row.links[1] else "-"
        flags = ", ".join(f"{flag}×{count}" for flag, count in row.flags) or "-"
        table.add_row(
            (row.node_id or "?")[:8],
            "\n".join(a for a in addresses if a) or "-",
            row.role or "-",
            (row.primary_id or "-")[:8],
            slots,
            f"[{style}]{row.cluster_state or (row.error or 'no answer')}[/{style}]",
            epoch,
            links,
            flags,
            "-" if row.keys is None else str(row.keys),
        )
    console.print(table)
    health = report.health
    console.print(
        f"[{HEALTH_STYLE[health]}]{health}[/{HEALTH_STYLE[health]}]: {len(report.rows)} node(s), "
        f"{report.answered} of {report.endpoints} endpoint(s) answered, collected in {report.duration_s:.2f}s"
        "  (epoch = configEpoch/currentEpoch; links = views whose bus link to it is connected)"
    )
    for row in report.rows:
        for problem in row.problems:
            level, _, text = problem.partition(": ")
            console.print(
                f"  [{HEALTH_STYLE[level]}]{level}[/{HEALTH_STYLE[level]}] "
                f"{(row.node_id or '?')[:8]} {row.answered_at or ''}: {text}"
            )
