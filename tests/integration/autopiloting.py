"""Shared by the autopilot tests and its benchmark: a real `rcdoctor autopilot` process, its endpoints and
its journal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.monitoring import get


@dataclass(frozen=True)
class Pilot:
    url: str
    log: Path
    pid: int

    def status(self) -> dict[str, Any]:
        code, text = get(f"{self.url}/status")
        assert code == 200, text
        result: dict[str, Any] = json.loads(text)
        return result

    def journal(self) -> list[dict[str, Any]]:
        """This autopilot's lines of its journal (several autopilots of one cluster share the file)."""
        path = Path(self.status()["journal"])
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [e for e in lines if str(e.get("by", "")).endswith(f"/{self.pid}")]


@contextmanager
def autopilot_process(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, name: str = "autopilot"
) -> Iterator[Pilot]:
    """Start `rcdoctor autopilot ARGS --listen 127.0.0.1:0`; yield it once it serves; stop it by its pid."""
    log = tmp_path / f"{name}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rcdoctor", "autopilot", *args, "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + 20
        url = None
        while url is None:
            found = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", log.read_text())
            if found:
                url = f"http://{found[1]}"
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"autopilot did not start (exit {proc.poll()}): {log.read_text()}")
            else:
                time.sleep(0.05)
        yield Pilot(url, log, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_status(pilot: Pilot, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = pilot.status()
        if predicate(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f}s: {what}; last status: {json.dumps(status)[:2000]}")
