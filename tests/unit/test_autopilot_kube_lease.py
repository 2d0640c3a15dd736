"""The Kubernetes Lease through the real kubectl, against a local API endpoint that checks resourceVersion
as the API server does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.kube_api import write_kubeconfig
from tests.kube_leases import Leases, lease_server

from rcdoctor.autopilot.decide import Repair
from rcdoctor.autopilot.lease import KubeLease

KUBECTL = "/usr/bin/kubectl"
PATH = "/apis/coordination.k8s.io/v1/namespaces/gameserver-cache/leases"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Leases]:
    with lease_server() as leases:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", {"lab": leases.port}, "lab")))
        monkeypatch.setenv("HOME", str(tmp_path))  # kubectl's discovery cache stays in the test's directory
        yield leases


def lease(holder: str, duration: float = 15) -> KubeLease:
    made = KubeLease("gameserver-cache", "rcdoctor-autopilot", duration=duration, kubectl=KUBECTL)
    made.holder = holder
    return made


def test_one_holder_at_a_time_and_a_new_one_after_expiry(api: Leases) -> None:
    # 5 s: the steps before the expiry (seven kubectl runs) must fit in it on a loaded CI host, where 1 s
    # did not; the sleep below waits for the expiry itself, however long those steps took.
    duration = 5
    a, b = lease("pod-a/1", duration=duration), lease("pod-b/1", duration=duration)
    assert a.acquire() is None and a.token == 1
    renewed = time.time()  # a's renewTime was read from the clock before its write: not later than this
    assert ("POST", PATH) in api.requests  # created, in the namespace named
    held = b.acquire()
    assert held is not None and "held by pod-a/1" in held and b.token is None
    assert a.fence() is None and b.fence() is not None
    a.record_repair(Repair(100.0, ("A003:aa",), "ok"))
    assert b.last_repair() == Repair(100.0, ("A003:aa",), "ok")
    time.sleep(max(0.0, renewed + duration + 0.3 - time.time()))  # a stops renewing: its Lease expires
    assert "expired" in (a.fence() or "")
    assert b.acquire() is None and b.token == 2  # leaseTransitions: the fencing token
    assert ("PUT", f"{PATH}/rcdoctor-autopilot") in api.requests
    assert "held by pod-b/1" in (a.fence() or "") or "now held by pod-b/1" in (a.fence() or "")
    assert a.acquire() is not None  # not expired now: a stays standby
    stored = api.stored[("gameserver-cache", "rcdoctor-autopilot")]
    assert stored["spec"]["holderIdentity"] == "pod-b/1" and stored["spec"]["leaseTransitions"] == 2


def test_a_write_that_lost_the_race_is_refused(api: Leases) -> None:
    a = lease("pod-a/1")
    assert a.acquire() is None
    original = a._get

    # Between a's read and its replace, someone else writes the Lease: the API server answers 409.
    def read_then_someone_writes() -> dict[str, object] | None:
        doc = original()
        api.bump("gameserver-cache", "rcdoctor-autopilot")
        return doc

    a._get = read_then_someone_writes  # type: ignore[method-assign]
    refused = a.acquire()
    assert refused is not None and "wrote" in refused and a.token is None


def test_kubectl_missing_is_one_line(tmp_path: Path) -> None:
    missing = KubeLease("ns", "x", kubectl=str(tmp_path / "no-kubectl"))
    assert "not found" in (missing.acquire() or "")
