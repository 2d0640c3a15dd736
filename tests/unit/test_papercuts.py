"""What a new user hit in the first hour (issue 18), each as the user meets it: through the real CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import rcdoctor

from rcdoctor.checks import default_registry


def one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_an_empty_password_file_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "pw"
    empty.write_text("\n")
    one_line(rcdoctor("status", "127.0.0.1:1", "--password-file", str(empty)), 3, "is empty")
    probe = rcdoctor("probe", "readiness", "--password-file", str(empty), "127.0.0.1:1")
    assert probe.returncode == 3 and "is empty" in probe.stderr, probe.stderr


def test_missing_tls_files_name_the_option(tmp_path: Path) -> None:
    for option in ("--cacert", "--cert", "--key"):
        one_line(rcdoctor("status", "127.0.0.1:1", "--tls", option, str(tmp_path / "nope.pem")), 3, option)
    probe = rcdoctor("probe", "readiness", "--tls", "--cacert", str(tmp_path), "127.0.0.1:1")
    assert probe.returncode == 3 and "--cacert" in probe.stderr and "not a file" in probe.stderr


def test_probe_options_may_come_between_the_kind_and_the_address() -> None:
    done = rcdoctor("probe", "readiness", "--timeout", "0.5", "--quiet", "127.0.0.1:1")
    assert done.returncode == 2 and "cannot connect" in done.stderr, done.stderr
    assert "unrecognized" not in done.stderr


def test_exporter_listens_on_localhost_unless_told_and_then_says_what_it_exposes() -> None:
    assert "127.0.0.1:9840" in rcdoctor("exporter", "--help").stdout
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcdoctor", "exporter", "127.0.0.1:1", "--listen", "0.0.0.0:0", "--interval", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline(), proc.stderr.readline()]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert "/metrics" in lines[0] and "node ids" in lines[1] and "NetworkPolicy" in lines[1], lines


def test_stale_texts_are_gone() -> None:
    assert "Later versions" not in rcdoctor("demo", "--help").stdout
    q001 = default_registry().get("Q001")
    assert q001 is not None and "(planned)" not in q001.fix


def test_no_traceback_for_a_timeline_of_dev_zero() -> None:
    started = time.monotonic()
    done = rcdoctor("timeline", "/dev/zero", timeout=120)
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    assert time.monotonic() - started < 60


def test_a_damaged_snapshot_is_refused_naming_the_field(tmp_path: Path) -> None:
    import json

    from tests.conftest import DATA

    original = json.loads((DATA / "healthy-redis7.json").read_text())
    for key, value, words in (
        ("CLUSTER NODES", 123, "is int, not a string"),
        ("CLUSTER NODES", "garbage", "expected at least 8 fields"),
        ("CLUSTER NODES", "", "no `myself` line"),
        ("CLUSTER INFO", "cluster_known_nodes:6", "no cluster_state"),
        ("DBSIZE", "12", "not an integer"),
        ("CLUSTER MYID", "x", "not a node id"),
        ("CONFIG GET port", {"port": 6379}, "must map setting names to strings"),
    ):
        damaged = json.loads(json.dumps(original))
        damaged["nodes"][0]["replies"][key] = value
        path = tmp_path / "damaged.json"
        path.write_text(json.dumps(damaged))
        # never E004 partition / S001 invented from one bad field: refused, the field named
        one_line(rcdoctor("diagnose", "--from", str(path)), 3, f"nodes[0].replies['{key}']", words)


def test_snapshots_that_cannot_be_ones_are_refused_at_once(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(1024**3)  # sparse: 1 GiB, nothing written
    started = time.monotonic()
    one_line(rcdoctor("diagnose", "--from", str(big)), 3, "larger than")
    one_line(rcdoctor("diagnose", "--from", "/dev/zero"), 3, "not a JSON object")
    assert time.monotonic() - started < 20


def test_a_snapshot_is_named_with_its_age() -> None:
    from tests.conftest import DATA

    path = str(DATA / "healthy-redis6.json")
    diagnose = rcdoctor("diagnose", "--from", path)
    assert diagnose.stdout.startswith(f"rcdoctor diagnose: snapshot {path}, ") and " old" in diagnose.stdout
    status = rcdoctor("status", "--from", path)
    assert f"from snapshot {path}, " in status.stdout
    risk = rcdoctor("risk", "--from", path)
    assert risk.stdout.startswith(f"risk of snapshot {path}, "), risk.stdout


def test_shell_completion_works_as_documented() -> None:
    script = rcdoctor(env={"_RCDOCTOR_COMPLETE": "bash_source"})
    assert "_rcdoctor_completion" in script.stdout
    done = rcdoctor(env={"_RCDOCTOR_COMPLETE": "bash_complete", "COMP_WORDS": "rcdoctor timel", "COMP_CWORD": "1"})
    assert "timeline" in done.stdout
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "_RCDOCTOR_COMPLETE=bash_source rcdoctor" in readme
