"""Output that fits a terminal: status and diagnose at 80 columns, every address whole on one line, on
every snapshot recorded from a real cluster; piped output honours COLUMNS."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from tests.conftest import DATA, rcdoctor

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.cli.render import render_status
from rcdoctor.cli.render_diagnose import render_report
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.status import build_status

SNAPSHOTS = sorted(p.name for p in DATA.glob("*.json"))


def console(width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, highlight=False, emoji=False, color_system=None), buffer


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_status_fits_80_columns_with_every_address_whole(name: str) -> None:
    report = build_status(Snapshot.load(DATA / name))
    con, buffer = console(80)
    render_status(report, con)
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith(("ok:", "warning:", "critical:")))]
    for row in report.rows:
        for address in [row.answered_at, row.advertised_at, *(a for a, _ in row.listed_at)]:
            if address:
                assert any(address in line for line in table), (address, "\n".join(table))


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_diagnose_fits_80_columns(name: str) -> None:
    con, buffer = console(80)
    render_report(analyze(Snapshot.load(DATA / name), default_registry()), con)
    assert max(len(line) for line in buffer.getvalue().splitlines()) <= 80


def test_piped_status_honours_columns() -> None:
    path = str(DATA / "new-address-redis7.json")
    narrow = rcdoctor("status", "--from", path, env={"COLUMNS": "80"}).stdout.splitlines()
    wide = rcdoctor("status", "--from", path, env={"COLUMNS": ""}).stdout.splitlines()
    assert max(map(len, narrow)) <= 80 < max(map(len, wide))


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_heal_plan_fits_80_columns(name: str) -> None:
    from rcdoctor.cli.heal import render_plan
    from rcdoctor.model.view import ClusterView
    from rcdoctor.plan.heal import Facts, Flags, plan

    con, buffer = console(80)
    render_plan(plan(ClusterView(Snapshot.load(DATA / name)), Facts(), Flags()), apply=False, console=con)
    lines = buffer.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) <= 80


def test_ipv6_addresses_are_shown_whole_not_read_as_markup() -> None:
    import dataclasses

    report = build_status(Snapshot.load(DATA / "new-address-redis7.json"))
    rows = tuple(
        dataclasses.replace(
            row,
            answered_at=f"[fd00:10:244:101::{index}]:6379",
            advertised_at="[fd00:10:244:101::abcd]:6379",
            listed_at=(("[fd00:10:244:101::abcd]:6379", 5),),
        )
        for index, row in enumerate(report.rows)
    )
    report = dataclasses.replace(report, rows=rows)
    for width in (80, 160):
        con, buffer = console(width)
        render_status(report, con)
        text = buffer.getvalue()
        assert max(len(line) for line in text.splitlines()) <= width
        for index in range(len(rows)):
            assert f"[fd00:10:244:101::{index}]:6379" in text
        assert "[fd00:10:244:101::abcd]:6379" in text
