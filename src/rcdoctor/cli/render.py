"""Text rendering of reports with Rich tables."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text

from rcdoctor.model.slots import count_slots, format_ranges
from rcdoctor.status import StatusReport

if TYPE_CHECKING:
    from rich.console import Console

HEALTH_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red"}
NARROW = 120  # below this many columns the table takes its compact form (80 columns fit)


def render_status(report: StatusReport, console: Console) -> None:
    from rich.table import Table

    if (console.width or 160) < NARROW:
        _render_narrow(report, console)
        _footer(
            report,
            console,
            "adv = the address it advertises, seen = where peers list it; "
            "ep/ln = configEpoch/currentEpoch over views with a connected link/views listing it",
        )
        return

    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for column in ("id", "address", "role", "primary", "slots", "state", "epoch", "links", "flags", "keys"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "role", "primary", "epoch", "links"))
    for row in report.rows:
        style = HEALTH_STYLE[row.health]
        # escaped: an IPv6 address `[fd00::1]:6379` would otherwise be read as a markup tag and vanish
        addresses = [escape(row.answered_at) if row.answered_at else ""]
        if row.advertised_at and row.advertised_at != row.answered_at:
            addresses.append(f"[red]advertises {escape(row.advertised_at)}[/red]")
        addresses += [f"[dim]listed at {escape(a)}[/dim]" for a, _ in row.listed_at if a != row.answered_at]
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
            f"[{style}]{escape(row.cluster_state or (row.error or 'no answer'))}[/{style}]",
            epoch,
            links,
            flags,
            "-" if row.keys is None else str(row.keys),
        )
    console.print(table)
    _footer(report, console, "epoch = configEpoch/currentEpoch; links = views whose bus link to it is connected")


def _footer(report: StatusReport, console: Console, legend: str) -> None:
    health = report.health
    # Which server and version: a mixed cluster (mid-upgrade) lists each with its node count.
    servers = ", ".join(name if len(report.servers) == 1 else f"{name} ×{n}" for name, n in report.servers.items())
    console.print(
        f"[{HEALTH_STYLE[health]}]{health}[/{HEALTH_STYLE[health]}]: {len(report.rows)} node(s)"
        f"{f' ({servers})' if servers else ''}, "
        f"{report.answered} of {report.endpoints} endpoint(s) answered, collected in {report.duration_s:.2f}s"
        f"  ({legend})"
    )
    width = (console.width or 160) - 1
    for row in report.rows:
        for problem in row.problems:
            level, _, text = problem.partition(": ")
            line = f"  {level} {(row.node_id or '?')[:8]} {row.answered_at or ''}: {text}"
            # wrapped here with a hanging indent (Rich would start continuation lines at column 0)
            wrapped = textwrap.wrap(line, width, subsequent_indent="      ", break_on_hyphens=False) or [line]
            first = Text(wrapped[0])
            first.stylize(HEALTH_STYLE[level], 2, 2 + len(level))  # Text, not markup: a problem may hold "["
            for part in [first, *(Text(w) for w in wrapped[1:])]:
                console.print(part)


def _render_narrow(report: StatusReport, console: Console) -> None:
    """The same facts in 80 columns: no vertical rules, role and primary in one cell, epoch and links in
    one, and the address column as wide as its longest address, so no address is ever split."""
    from rich import box
    from rich.table import Table

    cells = []
    for row in report.rows:
        addresses = [escape(row.answered_at)] if row.answered_at else []
        if row.advertised_at and row.advertised_at != row.answered_at:
            addresses.append(f"[red]adv {escape(row.advertised_at)}[/red]")
        addresses += [f"[dim]seen {escape(a)}[/dim]" for a, _ in row.listed_at if a != row.answered_at]
        role = row.role or "-"
        if row.role == "replica" and row.primary_id:
            role += "\n" + row.primary_id[:8]
        epoch = "-" if row.config_epoch is None else f"{row.config_epoch}/{row.current_epoch or '?'}"
        links = f"{row.links[0]}/{row.links[1]}" if row.links[1] else "-"
        slots = f"{format_ranges(row.slots)}\n({count_slots(row.slots)})" if row.slots else "-"
        style = HEALTH_STYLE[row.health]
        cells.append(
            (
                (row.node_id or "?")[:8],
                "\n".join(addresses) or "-",
                role,
                slots,
                f"[{style}]{escape(row.cluster_state or (row.error or 'no answer'))}[/{style}]",
                f"{epoch}\n{links}",
                "\n".join(f"{flag}×{count}" for flag, count in row.flags) or "-",
                "-" if row.keys is None else str(row.keys),
            )
        )
    widest = max((len(_plain(line)) for c in cells for line in c[1].split("\n")), default=7)
    # one space between columns (the box's), no padding: 8 columns in 80 with the longest IPv4 address
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, padding=(0, 0), show_edge=False)
    for name in ("id", "address", "role", "slots", "state", "ep/ln", "flags", "keys"):
        if name == "address":
            table.add_column(name, no_wrap=True, min_width=widest)
        else:
            table.add_column(name, overflow="fold", no_wrap=name in ("id", "ep/ln"))
    for values in cells:
        table.add_row(*values)
    console.print(table)


def _plain(markup: str) -> str:
    from rich.text import Text

    return Text.from_markup(markup).plain
