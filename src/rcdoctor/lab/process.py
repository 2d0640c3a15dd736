"""redis-server processes of the lab: config, start, stop, pause, identity checks by pid.

A pid is only signalled after /proc confirms it is still the redis-server we started in that node's
directory, so a recycled pid is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from rcdoctor.errors import LabError
from rcdoctor.lab.state import LabNode, LabState
from rcdoctor.lab.tls import TlsFiles
from rcdoctor.transport.errors import AuthFailed, ConnectionLost, Loading, ReplyTimeout, ServerError
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.ports import tcp_check
from rcdoctor.transport.redis_py import node_client

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def write_config(state: LabState, node: LabNode, version: tuple[int, ...], password: str | None) -> Path:
    """`version` is the Redis release whose settings the server has (7.2.4 for any Valkey)."""
    lines = [
        f"bind {node.ip}",
        *_port_lines(state, node),
        f"dir {node.dir}",
        "daemonize no",
        "logfile redis.log",
        "cluster-enabled yes",
        "cluster-config-file nodes.conf",
        f"cluster-node-timeout {state.node_timeout_ms}",
        "appendonly yes",
        'save ""',
        "protected-mode no",
        # Nothing else is tuned: replication, timeouts of the sync, etc. stay at the server's defaults, as
        # on the clusters users run (a 0 repl-diskless-sync-delay here once hid a real heal failure).
    ]
    if version >= (7, 0):
        # Without it Redis 7 dials peers from 127.0.0.1 and they record the wrong address for it.
        lines.append(f"bind-source-addr {node.ip}")
    if state.announce_hostnames and version >= (7, 0):
        lines.append(f"cluster-announce-hostname {node.name}.{state.name}.lab.invalid")
    if password:
        lines += [f"requirepass {password}", f"masterauth {password}"]
    path = Path(node.dir) / "redis.conf"
    # The config may hold a password: create it private, never pass secrets on a command line.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def _port_lines(state: LabState, node: LabNode) -> list[str]:
    if state.tls_dir is None:
        return [f"port {node.port}"]
    files = TlsFiles.in_dir(state.tls_dir)
    # TLS only, on the same port; the cluster bus and replication speak TLS too.
    return [
        "port 0",
        f"tls-port {node.port}",
        f"tls-cert-file {files.cert}",
        f"tls-key-file {files.key}",
        f"tls-ca-cert-file {files.ca}",
        "tls-cluster yes",
        "tls-replication yes",
        "tls-auth-clients optional",
    ]


def start(state: LabState, node: LabNode, version: tuple[int, ...], options: ConnectOptions) -> None:
    """Start the node's redis-server and wait until it answers PING."""
    if is_running(node):
        raise LabError(f"{node.name} is already running (pid {node.pid})")
    Path(node.dir).mkdir(parents=True, exist_ok=True)
    if tcp_check(node.endpoint, 0.5).ok:
        raise LabError(f"{node.address} is already in use by another process; choose another --base-ip")
    password = options.password.reveal() if options.password else None
    config = write_config(state, node, version, password)
    with open(Path(node.dir) / "stdout.log", "ab") as out:
        proc = subprocess.Popen(
            [state.binary, str(config)],
            cwd=node.dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the CLI that started it; no terminal signals
        )
    node.pid = proc.pid
    node.paused = False
    _REAPERS[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            node.pid = None
            reason = last_log_line(node)
            if state.tls_dir and "tls" in (Path(node.dir) / "stdout.log").read_text(errors="replace").lower():
                reason = "this redis-server was built without TLS support (a TLS lab needs Redis 7 from Debian)"
            raise LabError(f"{node.name} ({node.address}) exited at start: {reason}")
        if _answers(node, options):
            return
        time.sleep(0.02)
    stop(node, force=True)
    raise LabError(f"{node.name} ({node.address}) did not answer within {START_TIMEOUT_S:.0f}s")


def stop(node: LabNode, force: bool = False) -> None:
    """SIGTERM (graceful: nodes.conf and AOF flushed) or SIGKILL; waits until the process is gone, and
    with it every process it forked (a BGSAVE or AOF rewrite child outlives a SIGKILLed parent briefly)."""
    if not is_running(node):
        node.pid = None
        node.paused = False
        return
    assert node.pid is not None
    pid = node.pid
    if force:
        _signal_group(pid, signal.SIGKILL)  # like a pod kill: the whole container, children included
    else:
        os.kill(pid, signal.SIGTERM)  # redis stops its own children on shutdown
        if node.paused:
            os.kill(pid, signal.SIGCONT)  # a stopped process only acts on SIGTERM once resumed
        if not _wait_gone(pid, STOP_TIMEOUT_S):
            _signal_group(pid, signal.SIGKILL)
    _wait_gone(pid, STOP_TIMEOUT_S)
    _wait_group_gone(pid, STOP_TIMEOUT_S)
    node.pid = None
    node.paused = False


def _signal_group(pid: int, sig: int) -> None:
    """Signal the node's process group (each node is started as its own session and group leader)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except ProcessLookupError:
        return
    os.kill(pid, sig)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Until no live process is left in the group (zombies waiting for init to reap them do not count)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_members(pgid):
            return
        time.sleep(0.01)
    for member in _group_members(pgid):  # last resort: nothing of a stopped node may stay behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, …
            members.append(int(entry.name))
    return members


def pause(node: LabNode) -> None:
    _require_running(node)
    assert node.pid is not None
    os.kill(node.pid, signal.SIGSTOP)
    node.paused = True


def resume(node: LabNode) -> None:
    if is_running(node) and node.pid is not None:
        os.kill(node.pid, signal.SIGCONT)
    node.paused = False


def is_running(node: LabNode) -> bool:
    """True if node.pid is alive and is still our redis-server in this node's directory."""
    if node.pid is None:
        return False
    proc = Path(f"/proc/{node.pid}")
    try:
        stat = (proc / "stat").read_text()
        cwd = os.readlink(proc / "cwd")
    except OSError:
        _reap(node.pid)
        return False
    if stat.rpartition(")")[2].split()[0] == "Z":  # zombie: dead, waiting for its parent
        _reap(node.pid)
        return False
    return os.path.realpath(cwd) == os.path.realpath(node.dir)


def last_log_line(node: LabNode) -> str:
    for name in ("redis.log", "stdout.log"):
        path = Path(node.dir) / name
        if path.exists():
            lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[-1].strip()[-200:]
    return "no log output"


# Popen objects of processes started by this Python process, so they can be reaped (no zombies).
_REAPERS: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    proc = _REAPERS.pop(pid, None)
    if proc is not None:
        proc.poll()


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = _REAPERS.get(pid)
        if proc is not None:
            if proc.poll() is not None:
                _REAPERS.pop(pid, None)
                return True
        elif not Path(f"/proc/{pid}").exists():
            return True
        else:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                    return True
            except OSError:
                return True
        time.sleep(0.01)
    return False


def _require_running(node: LabNode) -> None:
    if not is_running(node):
        raise LabError(f"{node.name} is not running")


def _answers(node: LabNode, options: ConnectOptions) -> bool:
    c = node_client(node.endpoint, options, timeout=0.5)
    try:
        return bool(c.ping())
    except Loading:
        return False
    except AuthFailed:
        return True  # something answers there (maybe with another password)
    except (ConnectionLost, ReplyTimeout, ServerError, OSError):
        return False
    finally:
        c.close()
