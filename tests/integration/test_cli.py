"""The CLI as a user runs it: help, collect/status round trip, bad input, secrets, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import LabFactory, next_base_ip, rcdoctor, start_plain_server

from rcdoctor.lab import RedisBinary
from rcdoctor.lab.faults import FaultOp, apply

pytestmark = pytest.mark.integration

COMMANDS = [
    [],
    ["collect"],
    ["status"],
    ["demo"],
    ["lab"],
    ["lab", "up"],
    ["lab", "status"],
    ["lab", "down"],
    ["lab", "fault"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_help(command: list[str]) -> None:
    result = rcdoctor(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: rcdoctor")
    assert len(result.stdout.splitlines()) > 5


def test_fault_help_lists_every_kind() -> None:
    from rcdoctor.lab.faults import KINDS

    text = rcdoctor("lab", "fault", "--help").stdout
    for kind in KINDS.values():
        assert (f"{kind.name}:" in text) != kind.undo_only


def test_console_script_and_version() -> None:
    result = subprocess.run(["rcdoctor", "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("rcdoctor ")


def test_collect_to_file_then_status_from_it(redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab(redis_binary)
    bundle = tmp_path / "bundle.json"
    result = rcdoctor("collect", lab.addresses[0], "-o", str(bundle))
    assert result.returncode == 0, result.stderr
    assert "6 answered, 0 did not" in result.stderr
    data = json.loads(bundle.read_text())
    assert data["format"] == "rcdoctor.snapshot" and len(data["nodes"]) == 6
    status = rcdoctor("status", "--from", str(bundle), "--format", "json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["health"] == "ok" and len(report["nodes"]) == 6
    text = rcdoctor("status", lab.addresses[1])
    assert text.returncode == 0 and "primary" in text.stdout and "16383" in text.stdout


def test_status_exit_codes_follow_health(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7)
    apply(lab, FaultOp("kill", "n6"))
    result = rcdoctor("status", lab.addresses[0], "--format", "json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["health"] == "critical"


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rcdoctor: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_unreachable_node() -> None:
    ip = next_base_ip()
    _one_line_error(rcdoctor("status", f"{ip}:6379", "--timeout", "1"), 3, "no node answered", "refused")
    _one_line_error(rcdoctor("collect", f"{ip}:6379", "--timeout", "1"), 3, "refused")


def test_bad_arguments() -> None:
    _one_line_error(rcdoctor("status", "host:99999"), 3, "port")
    _one_line_error(rcdoctor("status", "http://x:1"), 3, "scheme")
    _one_line_error(rcdoctor("status", "127.0.0.1:1", "--password-file", "/nonexistent/pw"), 3, "password file")
    _one_line_error(rcdoctor("status", "127.0.0.1:1", "--timeout", "abc"), 3, "timeout")
    _one_line_error(rcdoctor("nosuchcommand"), 3, "No such command")
    _one_line_error(rcdoctor("status", "no-such-node.rcdoctor.invalid:6379"), 3, "does not resolve")


def test_garbage_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(b"\x00\x01 this is not json")
    _one_line_error(rcdoctor("status", "--from", str(bundle)), 3, "not a snapshot")
    bundle.write_text(json.dumps({"format": "rcdoctor.snapshot", "version": 7}))
    _one_line_error(rcdoctor("status", "--from", str(bundle)), 3, "version 7 is not supported")


def test_wrong_and_missing_password(redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("right-password\n")
    lab = make_lab(redis_binary, primaries=3, replicas=0, password_file=str(secret))
    seed = lab.addresses[0]
    _one_line_error(rcdoctor("status", seed, env={"REDISCLI_AUTH": "wrong"}), 3, "refused the credentials")
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    result = subprocess.run(
        [sys.executable, "-m", "rcdoctor", "status", seed], capture_output=True, text=True, env=env, check=False
    )
    _one_line_error(result, 3, "requires a password")
    ok = rcdoctor("status", seed, "--password-file", str(secret), "--format", "json")
    assert ok.returncode == 0, ok.stderr
    via_env = rcdoctor("collect", seed, env={"REDISCLI_AUTH": "right-password"})
    assert via_env.returncode == 0 and "right-password" not in via_env.stdout + via_env.stderr


def test_not_a_cluster_and_tls_mismatch(redis_binary: RedisBinary, tmp_path: Path) -> None:
    ip = next_base_ip()
    server = start_plain_server(redis_binary, tmp_path / "plain", ip)
    try:
        _one_line_error(rcdoctor("status", f"{ip}:6379"), 3, "cluster support is disabled")
        _one_line_error(rcdoctor("collect", f"rediss://{ip}:6379", "--timeout", "2"), 3, "TLS")
    finally:
        server.kill()
        server.wait()


def test_url_password_never_shows(redis_binary: RedisBinary, make_lab: LabFactory, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-hunter2\n")
    lab = make_lab(redis_binary, primaries=3, replicas=0, password_file=str(secret), node_timeout_ms=15000)
    apply(lab, FaultOp("pause", "n3"))  # keeps the collection running for a while: time to read its cmdline
    out = tmp_path / "snap.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rcdoctor",
            "collect",
            f"redis://:hunter2-hunter2@{lab.addresses[0]}",
            "--timeout",
            "3",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        cmdlines = []
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                cmdlines.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes())
            except OSError:
                break
            time.sleep(0.05)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The title is rewritten at start-up (argv shows the URL only until our first line runs) and the
    # password never shows again after that.
    rewritten = [i for i, c in enumerate(cmdlines) if b"redis://:***@" in c]
    assert rewritten, cmdlines[:3]
    assert not any(b"hunter2" in c for c in cmdlines[rewritten[0] :])
    assert proc.returncode == 2  # one node paused: collected, but not every node answered
    for text in (stdout, stderr, out.read_bytes()):
        assert b"hunter2" not in text


def test_demo_plays_the_incident(redis_binary: RedisBinary, tmp_path: Path) -> None:
    result = rcdoctor(
        "demo",
        "--redis-server",
        redis_binary.path,
        "--base-ip",
        next_base_ip(),
        "--keys",
        "300",
        timeout=180,
        env={"TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    out = result.stdout
    assert "cluster_state:ok on every node" in out
    assert out.count(" → ") == 6  # every node moved
    assert "Cluster state changed" in out or " fail" in out
    assert "peers list it at" in out
    assert "the primaries hold 300 keys (written: 300)" in out
    assert "dry run: nothing changed" in out and "healed in" in out and "diagnose is clean" in out
    assert "same keys and content as the baseline: 300 keys now, 300 at" in out
    assert "All 300 keys are back, unchanged" in out
    # No verify check failed (its mark starts the line). "FAIL" alone may also be a finding's words before
    # the heal: under load Valkey marks a moved node FAIL before the demo diagnoses (M001).
    assert not [line for line in out.splitlines() if line.startswith("FAIL ")], out[-2000:]
    assert "stopped every redis-server the demo started" in out
    assert list(tmp_path.iterdir()) == []  # nothing left in its temporary directory
