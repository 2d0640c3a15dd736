"""Shared by the monitoring tests: a real `rcdoctor exporter` process and reading its endpoints."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@contextmanager
def exporter_process(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, name: str = "exporter"
) -> Iterator[str]:
    """Start `rcdoctor exporter ARGS --listen 127.0.0.1:0`; yield its base URL; stop it by its pid."""
    log = tmp_path / f"{name}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rcdoctor", "exporter", *args, "--listen", "127.0.0.1:0"],
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
                raise AssertionError(f"exporter did not start (exit {proc.poll()}): {log.read_text()}")
            else:
                time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(base: str, timeout: float = 5.0) -> dict[str, list[Sample]]:
    status, text = get(f"{base}/metrics", timeout)
    assert status == 200, text
    found: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(metrics: dict[str, list[Sample]], name: str, **labels: str) -> float | None:
    for sample in metrics.get(name, []):
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


def sd(base: str) -> list[dict[str, object]]:
    status, text = get(f"{base}/sd")
    assert status == 200
    result: list[dict[str, object]] = json.loads(text)
    return result
