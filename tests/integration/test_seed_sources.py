"""Seed sources against real clusters: a headless-Service-like DNS name (in /etc/hosts) resolving to every
node, followed when the pods move; a k8s: selector listed by the real kubectl whose pods are the lab's."""

from __future__ import annotations

import copy
import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
from tests.conftest import LabFactory, MapName, rcdoctor
from tests.kube_api import Cluster, api_server, load, write_kubeconfig

from rcdoctor.collect import ConnectOptions, collect
from rcdoctor.lab import RedisBinary
from rcdoctor.lab.faults import FaultOp, apply
from rcdoctor.lab.tls import TlsFiles
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.sources import pod_domains

pytestmark = pytest.mark.integration

NAME = "redis-main.rcdoctor-test.svc.cluster.local"


def _ips(addresses: list[str]) -> list[str]:
    return [parse_hostport(a).host for a in addresses]


def test_a_name_means_every_address_it_resolves_to(
    redis_binary: RedisBinary, make_lab: LabFactory, hosts: MapName
) -> None:
    lab = make_lab(redis_binary)
    hosts(NAME, _ips(lab.addresses))
    snapshot = collect([f"{NAME}:6379"], lab.options)
    assert sorted(snapshot.seeds) == sorted(lab.addresses)  # every pod dialled as IP:port
    assert sorted(n.address for n in snapshot.nodes) == sorted(lab.addresses)
    assert all(n.answered and n.origin == "seed" for n in snapshot.nodes)
    (source,) = snapshot.sources
    assert (source.spec, source.kind, source.error) == (f"{NAME}:6379", "dns", None)
    assert sorted(source.addresses) == sorted(lab.addresses)
    assert sorted(snapshot.dns[NAME]["addresses"]) == sorted(_ips(lab.addresses))
    assert Snapshot.from_json(snapshot.to_json()).sources == snapshot.sources

    # The pods come back at new IPs and the name follows them: the next collection dials the new ones.
    apply(lab, FaultOp("new-address", "all"))
    hosts(NAME, _ips(lab.addresses))
    moved = collect([f"{NAME}:6379"], lab.options)
    assert sorted(moved.seeds) == sorted(lab.addresses) != sorted(snapshot.seeds)
    assert all(n.answered for n in moved.nodes if n.address in lab.addresses)


def test_a_name_that_does_not_resolve_is_recorded_and_the_rest_collected(
    redis_binary: RedisBinary, make_lab: LabFactory
) -> None:
    lab = make_lab(redis_binary)
    missing = "nowhere.rcdoctor-test.invalid:6379"
    snapshot = collect([missing, lab.addresses[0]], lab.options)
    dns = snapshot.node(missing)
    assert dns is not None and dns.error is not None and dns.error.kind == "dns"
    assert sorted(n.address for n in snapshot.answered) == sorted(lab.addresses)
    failed = next(s for s in snapshot.sources if s.spec == missing)
    assert failed.kind == "dns" and failed.addresses == () and failed.error and "does not resolve" in failed.error


def test_diagnose_through_a_name(redis7: RedisBinary, make_lab: LabFactory, hosts: MapName) -> None:
    lab = make_lab(redis7)
    hosts(NAME, _ips(lab.addresses))
    result = rcdoctor("diagnose", f"{NAME}:6379", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["endpoints"] == summary["answered"] == 6


def test_k8s_pods_are_dialled_and_their_zones_are_the_failure_domains(
    redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis7)
    pods = copy.deepcopy(load("pods-redis-main.json"))
    for pod, address in zip(pods["items"], lab.addresses, strict=True):  # the recorded pods, at the lab's IPs
        ip = parse_hostport(address).host
        pod["status"]["podIP"], pod["status"]["podIPs"] = ip, [{"ip": ip}]
    spec = "k8s:gameserver-cache/app.kubernetes.io/name=redis-main"
    with api_server(Cluster(pods, load("nodes.json"))) as cluster:
        env = {"KUBECONFIG": str(write_kubeconfig(tmp_path / "kc", {"prod": cluster.port}, "prod"))}
        env["HOME"] = str(tmp_path)
        bundle = tmp_path / "snapshot.json"
        result = rcdoctor("collect", spec, "-o", str(bundle), env=env)
        assert result.returncode == 0, result.stderr
        risk = rcdoctor("risk", spec, "--format", "json", env=env)
    snapshot = Snapshot.load(bundle)
    assert sorted(snapshot.seeds) == sorted(lab.addresses) and len(snapshot.answered) == 6
    (source,) = snapshot.sources
    assert source.kind == "k8s" and source.complete
    assert [p.name for p in source.pods] == [f"redis-main-{i}" for i in range(6)]
    zones = {"europe-west1-b", "europe-west1-c", "europe-west1-d"}
    assert set(pod_domains(snapshot.sources).values()) == zones
    assert risk.returncode in (0, 1, 2), risk.stderr
    assert set(json.loads(risk.stdout)["domains"]) == zones  # the pods' zones, with no --domains given
    # a saved snapshot carries them: --from gets the same domains without asking Kubernetes again
    offline = rcdoctor("risk", "--from", str(bundle), "--format", "json")
    assert set(json.loads(offline.stdout)["domains"]) == zones


def test_tls_through_a_name_sends_the_name_as_sni(redis7: RedisBinary, make_lab: LabFactory, hosts: MapName) -> None:
    lab = make_lab(redis7, primaries=3, replicas=1, tls=True)
    assert lab.state.tls_dir is not None and lab.options.ca_file is not None
    hosts(NAME, _ips(lab.addresses))
    snapshot = collect([f"rediss://{NAME}:6379"], ConnectOptions(ca_file=lab.options.ca_file))
    assert snapshot.tls and len(snapshot.answered) == 6 and sorted(snapshot.seeds) == sorted(lab.addresses)

    # Which name does the handshake carry? A TLS listener of our own, with the lab's certificate, records it.
    files = TlsFiles.in_dir(lab.state.tls_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)
    seen: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed by the test
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                conn.close()  # the collector's own TCP probe never starts a handshake

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        hosts("sni.rcdoctor-test.svc.cluster.local", ["127.0.0.1"])
        collect([f"rediss://sni.rcdoctor-test.svc.cluster.local:{port}"], ConnectOptions(ca_file=files.ca, timeout=1))
    finally:
        listener.close()
        thread.join(5)
    assert seen == ["sni.rcdoctor-test.svc.cluster.local"]  # dialled at 127.0.0.1, introduced by its name


def test_create_from_a_k8s_selector_spreads_over_the_pods_zones(
    redis7: RedisBinary, make_lab: LabFactory, tmp_path: Path
) -> None:
    lab = make_lab(redis7, form=False)  # six empty nodes, as a fresh StatefulSet
    pods = copy.deepcopy(load("pods-redis-main.json"))
    for pod, address in zip(pods["items"], lab.addresses, strict=True):
        ip = parse_hostport(address).host
        pod["status"]["podIP"], pod["status"]["podIPs"] = ip, [{"ip": ip}]
    with api_server(Cluster(pods, load("nodes.json"))) as cluster:
        env = {"KUBECONFIG": str(write_kubeconfig(tmp_path / "kc", {"prod": cluster.port}, "prod"))}
        env["HOME"] = str(tmp_path)
        dry = rcdoctor(
            "create", "k8s:gameserver-cache/app.kubernetes.io/name=redis-main", "--replicas", "1", "--format", "json",
            env=env,
        )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    shards = json.loads(dry.stdout)["shards"]
    members = [m for s in shards for m in (s["primary"], *s["replicas"])]
    assert sorted(m["address"] for m in members) == sorted(lab.addresses)
    zones = {"europe-west1-b", "europe-west1-c", "europe-west1-d"}
    assert {s["primary"]["domain"] for s in shards} == zones  # one primary per zone
    for shard in shards:
        assert all(r["domain"] != shard["primary"]["domain"] for r in shard["replicas"])
