"""The redis.conf and the probe commands shipped in deploy/kubernetes/redis-statefulset.yaml, run for real:
the ConfigMap's config starts a cluster-mode server whose password comes from the Secret's auth.conf, the
sidecar's exact startup and readiness commands judge it, and the liveness command line passes on a
cluster that is failing. Paths are moved under tmp_path and the address to a lab IP; nothing else changes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from tests.conftest import spare_ip

from rcdoctor.lab import RedisBinary

pytestmark = pytest.mark.integration

MANIFEST = Path(__file__).parent.parent.parent / "deploy" / "kubernetes" / "redis-statefulset.yaml"
PASSWORD = "s3cret-for-the-test"


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def _moved(text: str, tmp: Path) -> str:
    return text.replace("/etc/redis-auth", str(tmp / "auth")).replace("/data", str(tmp / "data"))


def test_the_shipped_config_and_probes_work_on_a_real_server(redis_binary: RedisBinary, tmp_path: Path) -> None:
    documents = _documents()
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]["redis.conf"]
    statefulset = next(d for d in documents if d["kind"] == "StatefulSet")
    pod = statefulset["spec"]["template"]["spec"]
    redis_container = next(c for c in pod["containers"] if c["name"] == "redis")
    sidecar = next(c for c in pod["containers"] if c["name"] == "probe")
    (tmp_path / "data").mkdir()
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / "password").write_text(PASSWORD + "\n")
    (tmp_path / "auth" / "auth.conf").write_text(f"requirepass {PASSWORD}\nmasterauth {PASSWORD}\n")
    ip = spare_ip()
    conf = tmp_path / "redis.conf"
    # The pod listens on its own IP; here a loopback one (the manifest's config binds nothing explicitly).
    conf.write_text(_moved(config, tmp_path) + f"\nbind {ip}\nport 6379\nlogfile {tmp_path / 'redis.log'}\n")
    assert redis_container["args"][:1] == ["redis-server"]
    server = subprocess.Popen([redis_binary.path, str(conf)], cwd=tmp_path)
    try:
        client = redis.Redis(ip, 6379, password=PASSWORD, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(ip, 6379, socket_timeout=1).get("x")  # the Secret's requirepass is in force
        assert client.info("cluster")["cluster_enabled"] == 1
        assert (tmp_path / "data" / "nodes.conf").exists()  # on the volume, where a restarted pod finds it
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

        def probe(which: str) -> subprocess.CompletedProcess[str]:
            command = [_moved(w, tmp_path) for w in sidecar[which]["exec"]["command"]]
            assert command[0] == "rcdoctor" and command[-1] == "127.0.0.1:6379"
            command = [sys.executable, "-m", "rcdoctor", *command[1:-1], f"{ip}:6379"]
            return subprocess.run(command, capture_output=True, text=True, timeout=30, env=env, check=False)

        started = probe("startupProbe")
        assert started.returncode == 0 and started.stdout == "", started.stdout + started.stderr
        # A lone node with no slots: cluster_state is fail, so the pod must not be Ready.
        ready = probe("readinessProbe")
        assert ready.returncode == 2, ready.stdout + ready.stderr
        assert "cluster_state" in ready.stdout + ready.stderr and PASSWORD not in ready.stdout + ready.stderr
        # The liveness command of the redis container, with redis-cli, passes on that failing cluster.
        script = redis_container["livenessProbe"]["exec"]["command"][2]
        script = _moved(script, tmp_path).replace("redis-cli ping", f"redis-cli -h {ip} ping")
        live = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False)
        assert live.returncode == 0, live.stdout + live.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
