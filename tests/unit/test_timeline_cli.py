"""`rcdoctor timeline` as a user runs it: files, stdin, JSON, the time window, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DATA, rcdoctor

LOGS = DATA / "logs"


def test_json_over_six_server_logs_has_a_state_fail_from_every_node() -> None:
    files = [str(p) for p in sorted((LOGS / "redis7").glob("n*.log"))]
    done = rcdoctor("timeline", *files, "--snapshot", str(LOGS / "redis7" / "snapshot.json"), "--format", "json")
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["events"]
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert {e["node"] for e in events if e["kind"] == "state-fail"} == {f"n{i}" for i in range(1, 7)}
    assert all(e["address"] and e["address"].startswith("127.0.160.") for e in events)
    kinds = json.loads(done.stdout)["kinds"]
    assert kinds["state-fail"]["nodes"] == 6 and kinds["state-fail"]["first"] <= kinds["state-fail"]["last"]


def test_text_from_stdin_fits_the_columns_it_is_given() -> None:
    text = (LOGS / "valkey8" / "n2.log").read_text()
    done = rcdoctor("timeline", "-", env={"COLUMNS": "80"}, input_text=text)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("(UTC)") and "state-fail" in done.stdout
    assert max(len(line) for line in lines) <= 80


def test_since_and_until_cut_the_window() -> None:
    path = str(LOGS / "redis6" / "n3.log")
    every = json.loads(rcdoctor("timeline", path, "--format", "json").stdout)["events"]
    middle = every[len(every) // 2]["time"]
    done = rcdoctor("timeline", path, "--since", middle, "--format", "json")
    kept = json.loads(done.stdout)["events"]
    assert kept and all(e["time"] >= middle for e in kept) and len(kept) < len(every)
    clock = middle[11:19]  # HH:MM:SS on the first event's day
    until = json.loads(rcdoctor("timeline", path, "--until", clock, "--format", "json").stdout)["events"]
    assert until and all(e["time"][11:19] <= clock for e in until)


def test_bad_input_is_one_line_and_exit_3(tmp_path: Path) -> None:
    noise = tmp_path / "noise.log"
    noise.write_text("hello\nworld\n")
    for args, words in (
        ((str(tmp_path / "missing.log"),), "no such file"),
        ((str(noise),), "no Redis/Valkey log line"),
        ((str(tmp_path),), "is a directory"),
        ((), "give log files"),
        ((str(LOGS / "redis7" / "n1.log"), "--since", "yesterday"), "not a time"),
        ((str(LOGS / "redis7" / "n1.log"), "--tz", "+99:00"), "not a UTC offset"),
    ):
        done = rcdoctor("timeline", *args)
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
