"""diagnose names rcdoctor's own journal for slots a run left open: journals written by the real
`Journal` class, read back by `local_journals`, matched against a snapshot recorded from a real Redis 7.0
cluster with slot 300 half-moved (source and target ids from that snapshot)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.checks.base import Finding
from rcdoctor.execute.journal import Journal, in_flight, local_journals
from rcdoctor.model.journals import InFlight, LocalJournals
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import AnalysisSettings

DATA = Path(__file__).parent.parent / "data"
SNAPSHOT = Snapshot.load(DATA / "scenario-migration_in_flight-redis7.json")
SOURCE = "78a23c3473132a191f0c47ac91ea62458fb65433"  # slot 300 MIGRATING there, IMPORTING on the target
TARGET = "78b9192e6dc599a927d6375e14137e4241dd5605"


def _write(path: Path, *events: tuple[str, dict[str, object]]) -> Path:
    journal = Journal(path)
    try:
        for event, fields in events:
            journal.write(event, **fields)
    finally:
        journal.close()
    return path


def _open(slots: list[int], source: str = SOURCE, target: str = TARGET) -> tuple[str, dict[str, object]]:
    return "open", {"source": source, "target": target, "slots": slots}


def _closed(slots: list[int]) -> tuple[str, dict[str, object]]:
    return "closed", {"source": SOURCE, "target": TARGET, "slots": slots, "keys": 0}


def _s004(journals: LocalJournals | None) -> Finding:
    report = analyze(SNAPSHOT, default_registry(), settings=replace(AnalysisSettings(), journals=journals))
    (finding,) = [f for f in report.findings if f.code == "S004"]
    return finding


def test_a_killed_reshard_journal_is_named_with_the_resume_command(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "reshard-20250101T000000.000000Z.jsonl",
        ("plan", {"transfers": [{"source": SOURCE, "target": TARGET, "slots": 300}]}),
        _open([299]),
        _closed([299]),
        _open([300, 301]),
    )
    found = local_journals(tmp_path)
    assert found.read == 1 and [j.path for j in found.unfinished] == [str(path)]
    (journal,) = found.unfinished
    assert journal.command == "reshard" and not journal.ended
    assert journal.flights == (InFlight(SOURCE, TARGET, (300, 301)),)
    finding = _s004(found)
    (origin,) = [e for e in finding.evidence if e.startswith("opened by rcdoctor reshard")]
    assert str(path) in origin and "never ended: killed, or still running" in origin
    assert f"--resume --journal {path}" in finding.fix and "rcdoctor rebalance 127." in finding.fix


def test_a_run_that_ended_with_slots_open_says_so(tmp_path: Path) -> None:
    _write(tmp_path / "rebalance-20250101T000000.000000Z.jsonl", _open([300]), ("end", {"open_slots": [300]}))
    (origin,) = [e for e in _s004(local_journals(tmp_path)).evidence if e.startswith("opened by rcdoctor")]
    assert "it ended with them still open" in origin


def test_slots_a_later_resume_closed_are_not_blamed_on_the_old_journal(tmp_path: Path) -> None:
    old = _write(tmp_path / "reshard-20250101T000000.000000Z.jsonl", _open([300]))
    time.sleep(0.01)  # the journals' own line times order them
    _write(tmp_path / "rebalance-20250101T000100.000000Z.jsonl", _open([300]), _closed([300]), ("end", {}))
    found = local_journals(tmp_path)
    assert found.read == 2 and found.unfinished == ()
    assert in_flight(old) == [InFlight(SOURCE, TARGET, (300,))]  # on its own the old journal still says open
    finding = _s004(found)
    (origin,) = [e for e in finding.evidence if e.startswith("no unfinished rcdoctor journal")]
    assert "2 journals read" in origin and "redis-cli, another tool, rcdoctor on another machine" in origin
    assert "--journal" not in finding.fix and "rcdoctor heal 127." in finding.fix


def test_a_journal_of_other_nodes_or_other_slots_does_not_match(tmp_path: Path) -> None:
    _write(tmp_path / "heal-20250101T000000.000000Z.jsonl", _open([300], source="a" * 40, target="b" * 40))
    _write(tmp_path / "reshard-20250101T000001.000000Z.jsonl", _open([301]))
    found = local_journals(tmp_path)
    assert len(found.unfinished) == 2
    assert any(e.startswith("no unfinished rcdoctor journal") for e in _s004(found).evidence)


def test_an_unreadable_journal_is_skipped_and_no_directory_is_no_journal(tmp_path: Path) -> None:
    (tmp_path / "reshard-20250101T000000.000000Z.jsonl").write_text("not json\n{}\n", encoding="utf-8")
    found = local_journals(tmp_path)
    assert found.unfinished == () and len(found.unreadable) == 1
    assert local_journals(tmp_path / "missing") == LocalJournals(str(tmp_path / "missing"))


def test_without_journals_looked_at_nothing_is_claimed() -> None:
    finding = _s004(None)  # the exporter and library callers do not read this machine's journals
    assert not [e for e in finding.evidence if "journal" in e]
    assert "--resume --apply" in finding.fix
