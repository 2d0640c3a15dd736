"""Seed sources: k8s:/@FILE/RCDOCTOR_SEEDS parsing, pods and zones from recorded kubectl documents,
sources in snapshots, and the real kubectl binary against a tiny API server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import rcdoctor
from tests.kube_api import Cluster, api_server, load, write_kubeconfig

from rcdoctor.collect import collect
from rcdoctor.collect.sources import expand, file_seeds, kubernetes_source
from rcdoctor.errors import SourceError, UsageError
from rcdoctor.model.address import parse_seed, seed_lines, split_env_seeds
from rcdoctor.model.kubernetes import KubeSelector, node_zones, parse_k8s_spec, pods_from, redis_port
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.sources import Pod, SeedSource, failure_domains, pod_domains, redact

SPEC = "k8s:gameserver-cache/app.kubernetes.io/name=redis-main"
ZONES = {"gke-pool-a-1": "europe-west1-b", "gke-pool-a-2": "europe-west1-c", "gke-pool-a-3": "europe-west1-d"}

# Parsing


@pytest.mark.parametrize(
    ("text", "namespace", "selector", "port"),
    [
        (SPEC, "gameserver-cache", "app.kubernetes.io/name=redis-main", None),
        (f"{SPEC}:7000", "gameserver-cache", "app.kubernetes.io/name=redis-main", 7000),
        ("k8s:cache/app=redis,tier=main", "cache", "app=redis,tier=main", None),
        ("k8s:cache/app in (redis, valkey):6380", "cache", "app in (redis, valkey)", 6380),
        ("  k8s:ns/app  ", "ns", "app", None),
    ],
)
def test_k8s_spec(text: str, namespace: str, selector: str, port: int | None) -> None:
    assert parse_k8s_spec(text) == KubeSelector(namespace, selector, port)
    seed = parse_seed(text)
    assert seed.k8s == KubeSelector(namespace, selector, port) and seed.is_source and seed.spec == text.strip()


@pytest.mark.parametrize(
    "text", ["k8s:", "k8s:ns", "k8s:ns/", "k8s:/app=x", "k8s:ns/app=x:http", "k8s:ns/app=x:0", "k8s:ns/a:99999"]
)
def test_bad_k8s_spec_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_seed(text)
    assert "\n" not in str(error.value) and "k8s" in str(error.value)


def test_file_seed_and_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text(
        "# the cluster's seeds\n\n10.0.0.5:6379\n  redis-main-headless.cache.svc.cluster.local:6379  \n"
        "rediss://ops:hunter2@10.0.0.6:6380\n# k8s too\nk8s:cache/app=redis,tier=main:6379\n"
    )
    seed = parse_seed(f"@{path}")
    assert seed.file == str(path) and seed.is_source
    lines = file_seeds(str(path))
    assert [s.spec for s in lines] == [
        "10.0.0.5:6379",
        "redis-main-headless.cache.svc.cluster.local:6379",
        "rediss://ops@10.0.0.6:6380",  # the password never reaches a source record
        "k8s:cache/app=redis,tier=main:6379",
    ]
    assert lines[2].tls and lines[2].password is not None and lines[2].password.reveal() == "hunter2"
    assert lines[3].k8s == KubeSelector("cache", "app=redis,tier=main", 6379)
    assert seed_lines("#only\n \n") == []


def test_seeds_file_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read seeds file"):
        file_seeds(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.5:6379\nhost:99999\n")
    with pytest.raises(UsageError, match=r"bad.txt, line 2: .*port"):
        file_seeds(str(bad))
    nested = tmp_path / "nested.txt"
    nested.write_text(f"@{bad}\n")
    with pytest.raises(UsageError, match="cannot include another"):
        file_seeds(str(nested))
    with pytest.raises(UsageError):
        parse_seed("@")


def test_env_seeds_split_on_spaces_and_commas_but_selectors_keep_theirs() -> None:
    assert split_env_seeds(" 10.0.0.5:6379,10.0.0.6:6379  redis-main:6379\tk8s:ns/app=a,tier=b redis://x@h:1") == [
        "10.0.0.5:6379",
        "10.0.0.6:6379",
        "redis-main:6379",
        "k8s:ns/app=a,tier=b",
        "redis://x@h:1",
    ]
    assert split_env_seeds(" , ") == []


def test_url_passwords_are_removed_from_specs() -> None:
    assert redact("redis://ops:s3cr%40t@10.0.0.5:6379") == "redis://ops@10.0.0.5:6379"
    assert redact("rediss://:only-pass@h:1") == "rediss://@h:1"
    assert redact("10.0.0.5:6379") == "10.0.0.5:6379"
    assert "s3cr" not in parse_seed("redis://ops:s3cr%40t@10.0.0.5:6379").spec


# Pods and zones from recorded documents


def test_pods_and_zones_from_kubectl_documents() -> None:
    zones = node_zones(load("nodes.json"))
    # the current label wins over the legacy one; a node with only the legacy label still has a zone
    assert zones == ZONES
    pods = pods_from(load("pods-redis-main.json"), "gameserver-cache", None, zones)
    assert pods is not None and len(pods) == 6
    first = pods[0]
    assert first == Pod(
        name="redis-main-0",
        namespace="gameserver-cache",
        ip="10.8.0.20",
        port=6379,  # the container port named tcp-redis, not the bus or the exporter's
        phase="Running",
        ready=True,
        restarts=0,
        node="gke-pool-a-1",
        zone="europe-west1-b",
    )
    assert [p.ready for p in pods] == [True, True, True, False, True, True]
    assert [p.restarts for p in pods] == [0, 1, 2, 0, 2, 2]  # summed over the redis and metrics containers
    assert [p.address for p in pods][-1] == "10.8.5.25:6379"
    # nodes not listable: zones unknown, the rest the same
    unknown = pods_from(load("pods-redis-main.json"), "gameserver-cache", 7000, None)
    assert unknown is not None and {p.zone for p in unknown} == {None} and {p.port for p in unknown} == {7000}


def test_pending_pod_has_no_ip_and_no_node() -> None:
    pods = pods_from(load("pods-one-pending.json"), "gameserver-cache", None, ZONES)
    assert pods is not None
    pending = pods[1]
    assert (pending.ip, pending.node, pending.zone, pending.phase, pending.ready, pending.restarts) == (
        None,
        None,
        None,
        "Pending",
        False,
        0,
    )
    assert pending.address is None


def test_redis_port_choice() -> None:
    def pod(*ports: dict[str, object]) -> dict[str, object]:
        return {"spec": {"containers": [{"name": "redis", "ports": list(ports)}]}}

    assert (
        redis_port(pod({"name": "redis", "containerPort": 7000}, {"name": "bus", "containerPort": 17000}), None) == 7000
    )
    assert redis_port(pod({"name": "client", "containerPort": 6380}), None) == 6380
    assert redis_port(pod({"name": "redis-bus", "containerPort": 16379}, {"containerPort": 6379}), None) == 6379
    assert redis_port(pod({"name": "http", "containerPort": 8080}), None) == 6379
    assert redis_port({"spec": {}}, None) == 6379
    assert redis_port(pod({"name": "redis", "containerPort": 7000}), 7001) == 7001  # the :PORT given wins


def test_foreign_documents_read_as_unknown_never_raise() -> None:
    assert pods_from({"kind": "Status"}, "ns", None, None) is None
    assert pods_from([1, 2], "ns", None, None) is None
    assert pods_from({"apiVersion": "v1", "kind": "List", "items": []}, "ns", None, None) == ()
    odd = {"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod", "metadata": 3, "spec": [], "status": "x"}]}
    assert pods_from(odd, "ns", None, {}) == (Pod("?", "ns", None, 6379, "Unknown", False, 0, None, None),)
    assert node_zones({"items": "nope"}) == {}


# Sources in snapshots


def _snapshot(sources: tuple[SeedSource, ...]) -> Snapshot:
    return Snapshot("2026-12-01T00:00:00.000Z", 0.1, ("10.8.0.20:6379",), 3.0, (), sources=sources)


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
pods = st.builds(
    Pod,
    name=texts,
    namespace=texts,
    ip=st.none() | st.ip_addresses().map(str),
    port=st.integers(1, 65535),
    phase=st.sampled_from(["Running", "Pending", "Failed", "Unknown"]),
    ready=st.booleans(),
    restarts=st.integers(0, 10_000),
    node=st.none() | texts,
    zone=st.none() | texts,
)
seed_sources = st.builds(
    SeedSource,
    spec=texts,
    kind=st.sampled_from(["address", "dns", "k8s", "file", "env"]),
    addresses=st.lists(texts, max_size=4).map(tuple),
    error=st.none() | texts,
    pods=st.lists(pods, max_size=4).map(tuple),
    complete=st.booleans(),
)


@given(st.lists(seed_sources, max_size=4).map(tuple))
def test_sources_round_trip_through_json(sources: tuple[SeedSource, ...]) -> None:
    snapshot = _snapshot(sources)
    assert Snapshot.from_json(snapshot.to_json()).sources == sources


def test_old_snapshots_without_sources_load_and_bad_ones_are_refused() -> None:
    data = json.loads(_snapshot(()).to_json())
    del data["sources"]
    assert Snapshot.from_dict(data).sources == ()
    data["sources"] = [{"spec": "x", "kind": "k8s", "pods": [{"name": "p"}]}]
    with pytest.raises(Exception, match=r"sources\[0\]\.pods\[0\]\.namespace is missing"):
        Snapshot.from_dict(data)


def test_failure_domains_from_sources() -> None:
    listed = pods_from(load("pods-one-pending.json"), "gameserver-cache", None, ZONES)
    assert listed is not None
    on_nodes = (Pod("b", "ns", "10.8.9.9", 6379, "Running", True, 0, "gke-pool-a-9", None),)
    snapshot = _snapshot(
        (SeedSource(SPEC, "k8s", ("10.8.0.20:6379",), pods=listed), SeedSource("x", "k8s", pods=on_nodes))
    )
    assert pod_domains(snapshot.sources) == {"10.8.0.20": "europe-west1-b", "10.8.9.9": "gke-pool-a-9"}
    assert failure_domains({"10.8.0.20": "rack-1"}, snapshot.sources) == {"10.8.0.20": "rack-1"}  # --domains wins
    assert pod_domains(_snapshot(()).sources) == {}


# The real kubectl against a recorded API


KUBECTL = shutil.which("kubectl")


@pytest.fixture
def kube_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of its own (kubectl's discovery cache) and no KUBECONFIG from the machine."""
    assert KUBECTL, "kubectl must be installed (/usr/bin/kubectl on this machine and on CI)"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return tmp_path


@pytest.fixture
def two_clusters(kube_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cluster, Cluster]]:
    """Two API servers, `main` (the recorded pods) and `staging` (none of them), main not the current one."""
    with (
        api_server(Cluster(load("pods-redis-main.json"), load("nodes.json"))) as main,
        api_server(Cluster({"items": []}, load("nodes.json"))) as staging,
    ):
        config = write_kubeconfig(kube_env / "kubeconfig", {"staging": staging.port, "main": main.port}, "staging")
        monkeypatch.setenv("KUBECONFIG", str(config))
        yield main, staging


def _source(spec: str, context: str | None = None) -> SeedSource:
    selector = parse_k8s_spec(spec)
    selector = KubeSelector(selector.namespace, selector.selector, selector.port, context)
    return kubernetes_source(selector, spec, time.monotonic() + 10)


def test_kubectl_lists_pods_and_zones_in_the_context_asked(two_clusters: tuple[Cluster, Cluster]) -> None:
    main, staging = two_clusters
    source = _source(SPEC, context="main")
    assert source.error is None and source.kind == "k8s" and source.complete
    assert source.addresses == tuple(f"10.8.{i}.{20 + i}:6379" for i in range(6))
    assert [p.zone for p in source.pods] == [ZONES[f"gke-pool-a-{1 + i % 3}"] for i in range(6)]
    (path, query), *_ = main.pod_requests()
    assert path == "/api/v1/namespaces/gameserver-cache/pods"
    assert query["labelSelector"] == ["app.kubernetes.io/name=redis-main"]
    assert any(p == "/api/v1/nodes" for p, _ in main.requests)
    assert staging.pod_requests() == []  # --context chose main over the current context
    # without a context: the current one (staging), where nothing matches
    empty = _source(SPEC)
    assert empty.error == "no pod in namespace gameserver-cache matches the selector app.kubernetes.io/name=redis-main"
    assert staging.pod_requests() and not empty.addresses


def test_collect_through_k8s_records_the_source_and_dials_every_pod(two_clusters: tuple[Cluster, Cluster]) -> None:
    from rcdoctor.transport.options import ConnectOptions

    # the recorded pod IPs are not on this machine: each is a node record with its error, dialled as IP:port
    snapshot = collect([f"{SPEC}:7000"], ConnectOptions(timeout=0.3, kube_context="main"))
    assert snapshot.seeds == tuple(f"10.8.{i}.{20 + i}:7000" for i in range(6))
    assert sorted(n.address for n in snapshot.nodes) == sorted(snapshot.seeds)
    (source,) = snapshot.sources
    assert source.spec == f"{SPEC}:7000" and source.addresses == snapshot.seeds and len(source.pods) == 6
    assert pod_domains(Snapshot.from_json(snapshot.to_json()).sources)["10.8.2.22"] == "europe-west1-d"


def test_pending_pod_makes_the_listing_incomplete(kube_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with api_server(Cluster(load("pods-one-pending.json"), load("nodes.json"))) as cluster:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(kube_env / "kc", {"c": cluster.port}, "c")))
        source = _source(SPEC)
    assert source.error is None and not source.complete
    assert source.addresses == ("10.8.0.20:6379",) and [p.ip for p in source.pods] == ["10.8.0.20", None]


def test_forbidden_nodes_mean_unknown_zones_not_an_error(
    kube_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with api_server(Cluster(load("pods-redis-main.json"), None)) as cluster:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(kube_env / "kc", {"c": cluster.port}, "c")))
        source = _source(SPEC)
    assert source.error is None and len(source.addresses) == 6 and {p.zone for p in source.pods} == {None}
    (note,) = [r.getMessage() for r in caplog.records]
    assert "cannot list nodes" in note and "forbidden" in note and "zones unknown" in note


def test_forbidden_pods_is_one_line(kube_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with api_server(Cluster(None, None)) as cluster:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(kube_env / "kc", {"c": cluster.port}, "c")))
        source = _source(SPEC)
        with pytest.raises(SourceError, match="forbidden") as error:
            collect([SPEC])
    assert source.error is not None and source.error.startswith("kubectl: forbidden") and "RBAC" in source.error
    assert "\n" not in str(error.value)


def _one_line_error(result: object, *words: str) -> None:
    import subprocess

    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_cli_kubectl_errors_are_one_line_exit_3(kube_env: Path) -> None:
    no_config = {"KUBECONFIG": str(kube_env / "nonexistent"), "HOME": str(kube_env)}
    _one_line_error(rcdoctor("diagnose", SPEC, env=no_config), "no current context")
    empty = kube_env / "empty"
    empty.write_text("")
    _one_line_error(rcdoctor("collect", SPEC, env={**no_config, "KUBECONFIG": str(empty)}), "no current context")
    _one_line_error(rcdoctor("status", SPEC, "--context", "prod", env=no_config), "context 'prod' not found")
    without = kube_env / "bin"
    without.mkdir()  # a PATH with everything but kubectl: python itself is run by absolute path
    _one_line_error(rcdoctor("diagnose", SPEC, env={"PATH": str(without)}), "kubectl not found on PATH")


def test_cli_no_pod_matches_is_one_line_exit_3(two_clusters: tuple[Cluster, Cluster]) -> None:
    env = {"KUBECONFIG": os.environ["KUBECONFIG"], "HOME": os.environ["HOME"]}
    _one_line_error(rcdoctor("diagnose", "k8s:gameserver-cache/app=nothing", "--context", "main", env=env), "no pod")
    (path, query), *_ = two_clusters[0].pod_requests()
    assert path.endswith("/gameserver-cache/pods") and query["labelSelector"] == ["app=nothing"]


# Seeds from the environment and from files, through the CLI


def test_cli_seeds_from_the_environment(tmp_path: Path) -> None:
    env = {"RCDOCTOR_SEEDS": "127.0.0.1:1,127.0.0.1:2"}
    result = rcdoctor("collect", "--timeout", "0.5", env=env)
    _one_line_error(result, "no node answered", "refused")
    bundle = tmp_path / "s.json"
    rcdoctor("collect", "--timeout", "0.5", "-o", str(bundle), env=env)
    snapshot = Snapshot.load(bundle)
    assert snapshot.seeds == ("127.0.0.1:1", "127.0.0.1:2")
    assert next((s.kind, s.spec, s.addresses) for s in snapshot.sources) == (
        "env",
        "RCDOCTOR_SEEDS",
        ("127.0.0.1:1", "127.0.0.1:2"),
    )
    # the command line wins over the variable
    rcdoctor("collect", "127.0.0.1:3", "--timeout", "0.5", "-o", str(bundle), env=env)
    assert Snapshot.load(bundle).seeds == ("127.0.0.1:3",)
    _one_line_error(rcdoctor("collect", env={"RCDOCTOR_SEEDS": ""}), "give at least one seed", "RCDOCTOR_SEEDS")


def test_cli_seeds_file(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# pods\nredis://ops:hunter2@127.0.0.1:1\n\n127.0.0.1:2\n")
    bundle = tmp_path / "s.json"
    rcdoctor("collect", f"@{seeds}", "--timeout", "0.5", "-o", str(bundle))
    text = bundle.read_text()
    assert "hunter2" not in text
    snapshot = Snapshot.load(bundle)
    assert snapshot.seeds == ("127.0.0.1:1", "127.0.0.1:2")
    kinds = [(s.kind, s.spec) for s in snapshot.sources]
    assert kinds == [("file", f"@{seeds}"), ("address", "redis://ops@127.0.0.1:1"), ("address", "127.0.0.1:2")]
    assert snapshot.sources[0].addresses == snapshot.seeds
    _one_line_error(rcdoctor("status", f"@{tmp_path / 'missing'}"), "cannot read seeds file")


def test_expand_without_lookups_keeps_addresses() -> None:
    expansion = expand([parse_seed("10.0.0.5:6379"), parse_seed("[fd00::5]:6380")], time.monotonic() + 1)
    assert [str(s.endpoint) for s in expansion.seeds] == ["10.0.0.5:6379", "[fd00::5]:6380"]
    assert [s.kind for s in expansion.sources] == ["address", "address"] and not expansion.server_names


def test_exporter_seeds_file_goes_through_the_same_expansion(tmp_path: Path) -> None:
    from rcdoctor.exporter.server import Exporter, read_seeds_file
    from rcdoctor.transport.options import ConnectOptions

    path = tmp_path / "seeds.txt"
    path.write_text("127.0.0.1:1\nk8s:cache/app=redis\n")
    assert [s.spec for s in read_seeds_file(str(path))] == ["127.0.0.1:1", "k8s:cache/app=redis"]
    exporter = Exporter((), ConnectOptions(timeout=0.2), interval=1, seeds_file=str(path))
    (seed,) = exporter.current_seeds()
    assert seed.file == str(path)  # read again by the collector at each collection
    path.write_text("127.0.0.1:2\n")  # e.g. a sidecar rewrote it
    snapshot = collect(exporter.current_seeds(), exporter.options)
    assert snapshot.seeds == ("127.0.0.1:2",)
    assert [(s.kind, s.addresses) for s in snapshot.sources] == [
        ("file", ("127.0.0.1:2",)),
        ("address", ("127.0.0.1:2",)),
    ]
    path.write_text("host:99999\n")
    with pytest.raises(UsageError, match=r"^--seeds-file .*line 1: .*port"):
        read_seeds_file(str(path))
    with pytest.raises(UsageError, match=r"^cannot read --seeds-file"):
        read_seeds_file(str(tmp_path / "missing"))


def test_expand_names_with_the_real_resolver() -> None:
    expansion = expand(
        [parse_seed("localhost:7000"), parse_seed("nowhere.rcdoctor-test.invalid:6379")], time.monotonic() + 5
    )
    dns, missing = expansion.sources
    assert dns.kind == "dns" and dns.addresses and all(a.endswith(":7000") for a in dns.addresses)
    assert all(expansion.server_names[parse_seed(a).endpoint.host] == "localhost" for a in dns.addresses)
    assert expansion.answers["localhost"]["error"] is None
    assert missing.kind == "dns" and missing.addresses == () and missing.error
    assert "does not resolve" in missing.error
    # an unresolved name is a "dns" node record (unresolved), not also an answer: checks read one of them
    assert list(expansion.unresolved) == ["nowhere.rcdoctor-test.invalid:6379"]
    assert "nowhere.rcdoctor-test.invalid" not in expansion.answers


def test_kubectl_printing_no_json_is_one_line(tmp_path: Path) -> None:
    # A kubectl wrapper (plugin, proxy script) that prints something else: a real executable, not a mock.
    wrapper = tmp_path / "kubectl"
    wrapper.write_text("#!/bin/sh\necho 'Welcome to the jump host'\n")
    wrapper.chmod(0o755)
    source = kubernetes_source(parse_k8s_spec(SPEC), SPEC, time.monotonic() + 5, kubectl=str(wrapper))
    assert source.error is not None and source.error.startswith("kubectl get pods printed no valid JSON")
    assert "\n" not in source.error and source.addresses == ()
    wrapper.write_text('#!/bin/sh\necho \'{"kind": "Status"}\'\n')
    source = kubernetes_source(parse_k8s_spec(SPEC), SPEC, time.monotonic() + 5, kubectl=str(wrapper))
    assert source.error == "kubectl get pods printed JSON that is no pod listing"


def test_kubectl_stderr_to_one_line() -> None:
    from rcdoctor.collect.sources import kubectl_error

    selector = KubeSelector("cache", "app=redis", None, "prod")
    klog = 'E1201 23:19:07.849626   11840 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API"\n'
    assert kubectl_error(
        klog * 3 + "Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout\n", selector
    ) == ("kubectl get pods failed: Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout")
    assert "no current context" in kubectl_error(
        klog + "The connection to the server localhost:8080 was refused - did you specify the right host or port?",
        selector,
    )
    assert kubectl_error('error: context "prod" does not exist', selector) == (
        "kubectl: context 'prod' not found in the kubeconfig"
    )
    assert kubectl_error('Error from server (Forbidden): pods is forbidden: User "x" cannot list', selector).startswith(
        "kubectl: forbidden"
    )


def test_a_failed_k8s_source_beside_other_seeds_is_recorded_and_noted(kube_env: Path) -> None:
    bundle = kube_env / "s.json"
    env = {"KUBECONFIG": str(kube_env / "nonexistent"), "HOME": str(kube_env)}
    result = rcdoctor("collect", SPEC, "127.0.0.1:1", "--timeout", "0.5", "-o", str(bundle), env=env)
    assert result.returncode == 3  # the other seed was dialled; it refused
    assert f"rcdoctor: note: {SPEC}: kubectl has no current context" in result.stderr
    k8s, address = Snapshot.load(bundle).sources
    assert k8s.kind == "k8s" and k8s.error and "no current context" in k8s.error and not k8s.pods
    assert address.addresses == ("127.0.0.1:1",)
