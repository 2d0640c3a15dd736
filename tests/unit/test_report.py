"""The incident report's page and its HTML/Markdown, on snapshots and logs recorded from real clusters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.conftest import DATA, rcdoctor

from rcdoctor.analyze import Report, analyze
from rcdoctor.checks import default_registry
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.heal import Facts, Flags, plan
from rcdoctor.report import Page, build_page, render
from rcdoctor.status import build_status
from rcdoctor.timeline import Source, build

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def page_of(name: str, with_plan: bool = False, logs: list[Source] | None = None) -> tuple[Page, Report]:
    snapshot = Snapshot.load(DATA / name)
    report = analyze(snapshot, default_registry())
    ctx = ClusterView(snapshot)
    heal = plan(ctx, Facts(), Flags()) if with_plan else None
    timeline = build(logs) if logs else None
    return build_page(report, build_status(snapshot), ctx, f"snapshot {name}", heal, timeline, NOW), report


def recorded_logs(tag: str) -> list[Source]:
    return [Source(str(p), p.read_text().splitlines()) for p in sorted((DATA / "logs" / tag).glob("n*.log"))]


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.json")))
def test_every_recorded_snapshot_renders_with_every_code(name: str) -> None:
    page, report = page_of(name, with_plan=True)
    html = render(page, "html")
    assert sum(s.count for s in page.slot_map.segments) == 16384
    for finding in report.findings:
        assert f'data-code="{finding.code}"' in html, finding.code
    # self-contained: no script, no fetch of anything
    assert "<script" not in html and not re.search(r"\b(src|href)=", html) and "url(" not in html
    assert 'id="slot-map"' in html and f'id="exit-code">{report.exit_code}<' in html
    markdown = render(page, "markdown")
    assert markdown.startswith("# Redis Cluster incident report") and "## Who sees whom" in markdown
    for finding in report.root_causes:
        assert finding.code in markdown


def test_the_seed_incident_shows_stale_addresses_in_the_matrix() -> None:
    page, _ = page_of("new-address-redis7.json")
    states = {c.state for _, cells in page.matrix.rows for c in cells}
    assert states == {"self", "stale"}
    assert page.header.verdict == "critical" and page.header.exit_code == 2
    assert page.header.servers == ("Redis 7.0.15 on 6 node(s)",)
    assert [c.finding.code for c in page.causes] == ["A003"]


def test_marks_open_uncovered_and_contested_slots() -> None:
    damaged, _ = page_of("scenario-slot_damage-redis7.json")
    assert damaged.slot_map.count("uncovered") >= 1 and damaged.slot_map.count("open") >= 1
    html = render(damaged, "html")
    assert 'class="slot-mark mark-uncovered"' in html and 'class="slot-mark mark-open"' in html
    two, _ = page_of("scenario-two_clusters-redis7.json")
    assert two.slot_map.count("contested") == 16384
    alone, _ = page_of("scenario-lost_nodes_conf-redis7.json")
    assert alone.slot_map.count("contested") < 16  # where a lone view knows no owner it claims nothing


def test_topology_has_shards_with_their_replicas_and_domains() -> None:
    page, _ = page_of("healthy-valkey8.json")
    assert len(page.shards) == 3
    for shard in page.shards:
        assert len(shard.replicas) == 1 and shard.primary.role == "primary"
        assert shard.primary.domain and shard.replicas[0].domain
    assert sum(s.slot_count for s in page.shards) == 16384


def test_timeline_in_the_report_and_what_a_log_says_is_escaped() -> None:
    hostile = Source("evil.log", ["1:M 02 Dec 2026 05:12:04.120 * Cluster meet <script>alert(1)</script>:6379"])
    page, _ = page_of("new-address-redis7.json", logs=[*recorded_logs("redis7"), hostile])
    html = render(page, "html")
    assert 'id="timeline"' in html and "state-fail" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = render(page, "markdown")
    assert "## Timeline" in markdown and "| state-fail |" in markdown


def test_markdown_escapes_table_cells() -> None:
    piped = Source("p.log", ["1:M 02 Dec 2026 05:12:04.120 * Cluster meet a|b:6379"])
    page, _ = page_of("healthy-redis6.json", logs=[piped])
    assert "a\\|b" in render(page, "markdown")


def test_the_cli_writes_markdown_to_stdout_and_refuses_bad_input(tmp_path: Path) -> None:
    snapshot = str(DATA / "half-migrate-redis7.json")
    done = rcdoctor("report", "--from", snapshot, "--format", "markdown")
    assert done.returncode == 1 and done.stdout.startswith("# Redis Cluster incident report: **warning** (exit 1)")
    assert "S004" in done.stdout and "snapshot " in done.stdout
    for args, words in (
        (("--from", snapshot, "--logs", str(tmp_path / "nope.log")), "no such file"),
        (("--from", snapshot, "--logs", str(tmp_path)), "no *.log file"),
        (("--from", str(tmp_path / "missing.json")), "cannot read"),
        (("--from", snapshot, "--tz", "nowhere"), "--tz"),
        (("--from", snapshot, "-o", str(tmp_path / "no" / "dir" / "r.html")), "cannot write"),
        ((), "give at least one seed"),
    ):
        bad = rcdoctor("report", *args)
        assert bad.returncode == 3, (args, bad.stdout, bad.stderr)
        assert len(bad.stderr.splitlines()) == 1 and words in bad.stderr, (args, bad.stderr)


def test_a_journal_reads_as_lines_and_a_cut_last_line_is_tolerated(tmp_path: Path) -> None:
    import json

    from rcdoctor.execute.journal import read
    from rcdoctor.report.page import journal_lines

    path = tmp_path / "heal-20261202T031333.462687Z.jsonl"
    entries = [
        {"t": 1796181213.464, "event": "phase", "name": "meet", "steps": ["a", "b"]},
        {"t": 1796181213.5, "event": "step-start", "phase": "meet", "step": "a"},
        {"t": 1796181213.6, "event": "step", "phase": "meet", "step": "a", "status": "ok", "detail": ""},
        {"t": 1796181213.7, "event": "step", "phase": "meet", "step": "b", "status": "failed", "detail": "refused"},
        {"t": 1796181214.0, "event": "open", "source": "a" * 40, "target": "b" * 40, "slots": [1, 2, 3, 7]},
    ]
    path.write_text("\n".join(json.dumps(e) for e in entries) + '\n{"t": 17961812')
    journal = journal_lines(str(path), list(read(path)))
    assert [line.event for line in journal.lines] == ["phase", "step", "step", "open"]
    assert journal.lines[0].summary == "phase meet: 2 step(s)" and journal.lines[0].time.startswith("2026-")
    assert journal.lines[2].failed and journal.lines[2].summary == "failed: b (refused)"
    assert journal.lines[3].summary == "slots 1-3,7: aaaaaaaa → bbbbbbbb"
    page, _ = page_of("healthy-redis7.json")
    from dataclasses import replace

    html = render(replace(page, journal=journal), "html")
    assert 'id="journal"' in html and "failed: b (refused)" in html


def test_a_large_matrix_keeps_the_odd_nodes_first() -> None:
    snapshot = Snapshot.load(DATA / "scenario-primary_down_no_failover-redis7.json")
    report = analyze(snapshot, default_registry())
    ctx = ClusterView(snapshot)
    page = build_page(report, build_status(snapshot), ctx, "x", max_matrix=2)
    assert page.matrix.left_out == len(ctx.ids) - 2 and len(page.matrix.rows) == 2
    down = next(f for f in report.findings if f.code == "A001").nodes[0]
    assert any(str(down.address) in label for label in page.matrix.columns)  # the node down is kept
    assert "more node(s) left out" in render(page, "html") and "more node(s) left out" in render(page, "markdown")
