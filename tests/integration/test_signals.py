"""Signals on real clusters (Redis 7.0 and 6.2): SIGTERM mid-rebalance is handled like Ctrl-C (the
batches in flight finish, nothing is left open, exit 143); Ctrl-C (or SIGTERM) stops diagnose, collect,
status and the exporter at once while they wait on a hung node, exit 130 (143), and a second signal never
prints a traceback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.conftest import LabFactory
from tests.integration.helpers import cluster_nodes, wait_for

from rcdoctor.lab import Lab, RedisBinary
from rcdoctor.lab.data import DataSet, fill, missing_or_wrong
from rcdoctor.lab.faults import FaultOp, apply

pytestmark = pytest.mark.integration


def _open_slots(lab: Lab) -> set[int]:
    found: set[int] = set()
    for node in lab.nodes:
        for fields in cluster_nodes(lab, node):
            if "myself" in fields[2]:
                found.update(int(p[1:].split("-")[0]) for p in fields[8:] if p.startswith("["))
    return found


def _start(*args: str, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rcdoctor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )


def test_sigterm_mid_rebalance_finishes_the_batches_and_leaves_nothing_open(
    make_lab: LabFactory, redis_binary: RedisBinary, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    data = DataSet(20_000)
    fill(lab.nodes[0].endpoint, lab.options, data)
    lab.add_nodes(1, join=True)
    journal = tmp_path / "rebalance.jsonl"
    proc = _start(
        "rebalance", lab.nodes[0].address, "--use-empty-primaries", "--apply", "--batch-slots", "32",
        "--max-keys-per-sec", "400", "--journal", str(journal), tmp_path=tmp_path,
    )  # fmt: skip
    try:

        def in_flight() -> bool:
            lines = journal.read_text().splitlines() if journal.exists() else []
            return sum('"closed"' in line for line in lines) >= 2 and '"open"' in lines[-1]

        wait_for(in_flight, 60, "a batch in flight after two closed ones")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, (out[-800:], err[-800:])
    assert "interrupted (SIGTERM)" in err and "Traceback" not in err
    assert "interrupted" in out  # the summary: the batches in flight were finished
    assert _open_slots(lab) == set()
    assert missing_or_wrong(lab.nodes[0].endpoint, lab.options, data) == []


def test_ctrl_c_stops_diagnose_on_a_hung_node_at_once_and_twice_without_a_traceback(
    make_lab: LabFactory, redis_binary: RedisBinary, tmp_path: Path
) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    apply(lab, FaultOp("pause", ("n2",)))  # accepts TCP connections, never answers
    try:
        for presses in (1, 2):
            proc = _start("diagnose", *lab.addresses, "--timeout", "20", tmp_path=tmp_path)
            time.sleep(1.5)  # collecting: the paused node holds one worker until its 20 s timeout
            sent = time.monotonic()
            for _ in range(presses):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.05)
            try:
                out, err = proc.communicate(timeout=10)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            took = time.monotonic() - sent
            assert proc.returncode == 130, (presses, out[-500:], err[-500:])
            assert "Traceback" not in err and "interrupted (SIGINT)" in err, err
            assert took < 5, f"{presses} Ctrl-C: {took:.1f}s to stop"  # not the 20 s node timeout
    finally:
        apply(lab, FaultOp("resume", ("n2",)), record=False)


def _stopped_by(proc: subprocess.Popen[str], signum: int, presses: int, log: Path) -> tuple[float, str]:
    """Send the signal `presses` times 50 ms apart; seconds until the process ended, and its stderr."""
    sent = time.monotonic()
    for _ in range(presses):
        proc.send_signal(signum)
        time.sleep(0.05)
    try:
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return time.monotonic() - sent, log.read_text()


def _exporter_waits_on_the_hung_node(log: Path, proc: subprocess.Popen[str]) -> None:
    """Serving, and its first collection still waiting on the paused node (so it is really blocked)."""
    found: list[str] = []

    def serving() -> bool:
        assert proc.poll() is None, log.read_text()
        found[:] = re.findall(r"http://(127\.0\.0\.1:\d+)/metrics", log.read_text())
        return bool(found)

    wait_for(serving, 20, "the exporter listening")
    with urllib.request.urlopen(f"http://{found[0]}/healthz", timeout=5) as reply:
        assert "first collection under way" in reply.read().decode()


@pytest.mark.parametrize("command", ["collect", "status", "exporter"])
def test_collect_status_and_exporter_stop_at_once_on_a_hung_node_without_a_traceback(
    make_lab: LabFactory, redis_binary: RedisBinary, tmp_path: Path, command: str
) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    apply(lab, FaultOp("pause", ("n2",)))  # accepts TCP connections, never answers
    extra = ["--listen", "127.0.0.1:0", "--interval", "1"] if command == "exporter" else []
    try:
        # Ctrl-C once and twice; SIGTERM as Kubernetes sends it (the exporter used to exit 0 for it, late)
        for signum, presses in ((signal.SIGINT, 1), (signal.SIGINT, 2), (signal.SIGTERM, 1), (signal.SIGTERM, 2)):
            log = tmp_path / f"{command}-{signum}-{presses}.err"
            with log.open("w") as sink:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "rcdoctor", command, *lab.addresses, "--timeout", "20", *extra],
                    stdout=subprocess.DEVNULL,
                    stderr=sink,
                    text=True,
                    env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
                )
            if command == "exporter":
                _exporter_waits_on_the_hung_node(log, proc)
            else:
                time.sleep(1.5)  # collecting: the paused node holds one worker until its 20 s timeout
            took, err = _stopped_by(proc, signum, presses, log)
            case = f"{command}, {presses} x {signal.Signals(signum).name}"
            assert proc.returncode == 128 + signum, (case, err[-500:])
            assert "Traceback" not in err and f"interrupted ({signal.Signals(signum).name})" in err, (case, err)
            assert took < 3, f"{case}: {took:.1f}s to stop"  # not the 20 s node timeout
    finally:
        apply(lab, FaultOp("resume", ("n2",)), record=False)
