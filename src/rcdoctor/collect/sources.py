"""Seed sources to endpoints, at every collection: DNS names to every address they resolve to, `k8s:`
selectors to their pods' IPs (through kubectl), `@FILE` to the seeds on its lines.

Done inside `collect()` so every re-collection (heal's re-plans, the exporter's loop) follows pods that
moved. Every lookup runs in parallel and is bounded by the collection deadline; a lookup that fails is a
`SeedSource` with its error, never an exception (the collector decides when nothing is left to dial).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rcdoctor.errors import DoctorError
from rcdoctor.model.address import Endpoint, Seed, is_ip, parse_seed, seed_lines
from rcdoctor.model.kubernetes import KubeSelector, node_zones, pods_from
from rcdoctor.model.sources import SeedSource, redact
from rcdoctor.transport.ports import resolve

if TYPE_CHECKING:  # imported where used: a seed that is an address needs no thread nor process (start-up)
    import subprocess
    from concurrent.futures import Future

KUBECTL = "kubectl"
# Even a tiny --timeout leaves kubectl time to start (a Go binary: ~0.1-0.3 s before its first request).
MIN_LOOKUP_S = 1.0


def _warn(message: str, *args: object) -> None:
    import logging  # only for this note: logging's import is a few ms of every start-up

    logging.getLogger("rcdoctor.sources").warning(message, *args)


@dataclass(frozen=True)
class Expansion:
    """What the seeds came to: the endpoints to dial (IPs), the source records, the names behind IPs."""

    seeds: tuple[Seed, ...]
    sources: tuple[SeedSource, ...]
    server_names: dict[str, str]  # IP -> the seed name it was resolved from (TLS SNI)
    unresolved: dict[str, str]  # name:port -> why it does not resolve (recorded as a "dns" node)
    answers: dict[str, dict[str, object]]  # seed name that resolved -> {"addresses": [IPs], "error": None}


def read_seeds_file(path: str) -> list[str]:
    """The seed specs of a seeds file (raises DoctorError subclass SourceError when it cannot be read)."""
    from rcdoctor.errors import SourceError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"cannot read seeds file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(f"seeds file {path}: not a text file") from None
    return seed_lines(text)


def file_seeds(path: str) -> list[Seed]:
    """The seeds on a file's lines, each parsed like a command-line seed (a file cannot name another)."""
    from rcdoctor.errors import UsageError

    seeds = []
    for number, line in enumerate(read_seeds_file(path), 1):
        try:
            seed = parse_seed(line)
        except UsageError as exc:
            raise UsageError(f"seeds file {path}, line {number}: {exc}") from None
        if seed.file is not None:
            raise UsageError(f"seeds file {path}, line {number}: a seeds file cannot include another ({line})")
        seeds.append(seed)
    return seeds


def expand(
    seeds: Sequence[Seed], deadline: float, *, kube_context: str | None = None, kubectl: str = KUBECTL
) -> Expansion:
    """Expand every seed; lookups run in parallel, each bounded by `deadline` (time.monotonic()).
    `kube_context` (--context) applies to every k8s: seed, those read from files too."""
    leaves: list[tuple[Seed, str | None]] = []  # (seed, group: "@path" or the variable's name)
    groups: dict[str, SeedSource] = {}
    for seed in seeds:
        if seed.file is not None:
            group = seed.spec or f"@{seed.file}"
            try:
                children = file_seeds(seed.file)
            except DoctorError as exc:
                groups[group] = SeedSource(group, "file", error=str(exc))
                continue
            groups.setdefault(group, SeedSource(group, "file"))
            leaves.extend((child, group) for child in children)
        else:
            if seed.via is not None:
                groups.setdefault(seed.via, SeedSource(seed.via, "env"))
            leaves.append((seed, seed.via))

    records = _look_up_all([seed for seed, _ in leaves], deadline, kube_context, kubectl)

    dial: dict[str, Seed] = {}
    server_names: dict[str, str] = {}
    unresolved: dict[str, str] = {}
    answers: dict[str, dict[str, object]] = {}
    members: dict[str, list[str]] = {}
    for record, (seed, owner) in zip(records, leaves, strict=True):
        for address in record.addresses:
            endpoint = _endpoint(address)
            dial.setdefault(address, replace(seed, endpoint=endpoint, k8s=None, file=None))
            if record.kind == "dns":
                server_names.setdefault(endpoint.host, seed.endpoint.host)
        if record.kind == "dns" and record.addresses:
            answers[seed.endpoint.host] = {"addresses": [_endpoint(a).host for a in record.addresses], "error": None}
        elif record.kind == "dns":
            # Not in `answers`: the "dns" node record says it, as when the name itself was dialled (the
            # hostname check reads one or the other, never both).
            unresolved.setdefault(str(seed.endpoint), record.error or "does not resolve")
        if owner is not None:
            members.setdefault(owner, []).extend(record.addresses)
    grouped = [
        replace(source, addresses=tuple(dict.fromkeys(members.get(name, ())))) for name, source in groups.items()
    ]
    return Expansion(tuple(dial.values()), (*grouped, *records), server_names, unresolved, answers)


def _look_up_all(seeds: list[Seed], deadline: float, kube_context: str | None, kubectl: str) -> list[SeedSource]:
    """Each seed's source: addresses at once, names and selectors in parallel threads (only when any)."""
    work = [_lookup(seed, deadline, kube_context, kubectl) for seed in seeds]
    calls = [w for w in work if not isinstance(w, SeedSource)]
    if not calls:
        return [w for w in work if isinstance(w, SeedSource)]
    from concurrent.futures import ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=min(32, len(calls)), thread_name_prefix="rcdoctor-sources")
    try:
        futures = [w if isinstance(w, SeedSource) else pool.submit(w) for w in work]
        wait(
            [f for f in futures if not isinstance(f, SeedSource)],
            timeout=max(MIN_LOOKUP_S, deadline - time.monotonic()),
        )
        return [_result(f, seed) for f, seed in zip(futures, seeds, strict=True)]
    finally:
        # A resolver call that hangs cannot be interrupted: leave its thread, never wait for it.
        pool.shutdown(wait=False, cancel_futures=True)


def _lookup(
    seed: Seed, deadline: float, kube_context: str | None, kubectl: str
) -> Callable[[], SeedSource] | SeedSource:
    """The seed's source when it is known at once, else the call that finds it."""
    spec = seed.spec or redact(str(seed.endpoint))
    if seed.k8s is not None:
        selector = replace(seed.k8s, context=seed.k8s.context or kube_context)
        return lambda: kubernetes_source(selector, spec, deadline, kubectl)
    if is_ip(seed.endpoint.host):
        return SeedSource(spec, "address", (str(seed.endpoint),))
    return lambda: dns_source(seed.endpoint, spec)


def _result(future: Future[SeedSource] | SeedSource, seed: Seed) -> SeedSource:
    if isinstance(future, SeedSource):
        return future
    kind = "k8s" if seed.k8s is not None else "dns"
    spec = seed.spec or str(seed.endpoint)
    if not future.done():
        return SeedSource(spec, kind, error="no answer before the collection deadline")
    try:
        return future.result()
    except Exception as exc:  # a bug in one lookup must not stop the collection: it is that source's error
        return SeedSource(spec, kind, error=f"{type(exc).__name__}: {exc}")


def _endpoint(address: str) -> Endpoint:
    host, _, port = address.rpartition(":")
    return Endpoint(host.strip("[]"), int(port))


def dns_source(endpoint: Endpoint, spec: str) -> SeedSource:
    """Every A/AAAA address a name resolves to, each at the seed's port (a headless Service gives every
    pod; a per-pod name one)."""
    addresses, error = resolve(endpoint.host)
    if addresses is None:
        return SeedSource(spec, "dns", error=f"{endpoint.host} does not resolve ({error})")
    return SeedSource(spec, "dns", tuple(str(Endpoint(ip, endpoint.port)) for ip in addresses))


# Kubernetes


def kubernetes_source(selector: KubeSelector, spec: str, deadline: float, kubectl: str = KUBECTL) -> SeedSource:
    """The pods matching the selector (kubectl get pods) with their zones (kubectl get nodes)."""
    budget = max(MIN_LOOKUP_S, deadline - time.monotonic())
    base = [kubectl, *(["--context", selector.context] if selector.context else [])]
    timeout_flag = f"--request-timeout={max(1, math.ceil(budget))}s"
    pods_cmd = [*base, "get", "pods", "-n", selector.namespace, "-l", selector.selector, "-o", "json", timeout_flag]
    nodes_cmd = [*base, "get", "nodes", "-o", "json", timeout_flag]
    try:
        # Both at once: the nodes listing only adds zones, it must not add its own latency.
        pods_proc = _start(pods_cmd)
        nodes_proc = _start(nodes_cmd)
    except FileNotFoundError:
        return SeedSource(spec, "k8s", error=f"{kubectl} not found on PATH (k8s: seeds list pods through kubectl)")
    except OSError as exc:
        return SeedSource(spec, "k8s", error=f"cannot run {kubectl}: {exc.strerror or exc}")
    pods_out = _finish(pods_proc, deadline)
    nodes_out = _finish(nodes_proc, deadline)
    if pods_out is None:
        return SeedSource(spec, "k8s", error=f"kubectl get pods gave no answer within {budget:.1f}s")
    code, out, err = pods_out
    if code != 0:
        return SeedSource(spec, "k8s", error=kubectl_error(err, selector))
    try:
        document = json.loads(out)
    except json.JSONDecodeError as exc:
        return SeedSource(spec, "k8s", error=f"kubectl get pods printed no valid JSON ({exc.msg})")
    zones = _zones(nodes_out, spec)
    pods = pods_from(document, selector.namespace, selector.port, zones)
    if pods is None:
        return SeedSource(spec, "k8s", error="kubectl get pods printed JSON that is no pod listing")
    if not pods:
        return SeedSource(
            spec, "k8s", error=f"no pod in namespace {selector.namespace} matches the selector {selector.selector}"
        )
    addresses = tuple(dict.fromkeys(p.address for p in pods if p.address is not None))
    return SeedSource(spec, "k8s", addresses, pods=pods, complete=all(p.ip for p in pods))


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    import subprocess

    # No shell: the selector goes to kubectl as one argument, whatever characters it holds.
    return subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
    )


def _finish(proc: subprocess.Popen[str], deadline: float) -> tuple[int, str, str] | None:
    import subprocess

    try:
        out, err = proc.communicate(timeout=max(MIN_LOOKUP_S, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return proc.returncode, out, err


def _zones(result: tuple[int, str, str] | None, spec: str) -> dict[str, str] | None:
    """Node -> zone, or None (zones unknown) with a one-line note: listing nodes is often forbidden to
    namespaced service accounts, and zones are a refinement, not a requirement."""
    if result is None:
        _warn("%s: kubectl get nodes gave no answer in time: zones unknown", spec)
        return None
    code, out, err = result
    if code != 0:
        _warn("%s: cannot list nodes (%s): zones unknown", spec, _last_line(err))
        return None
    try:
        return node_zones(json.loads(out))
    except json.JSONDecodeError:
        _warn("%s: kubectl get nodes printed no valid JSON: zones unknown", spec)
        return None


def _last_line(stderr: str) -> str:
    """kubectl's own message: the last line that is not a klog record (`E1201 23:19:07.84 …`)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    plain = [line for line in lines if not (len(line) > 5 and line[0] in "IWEF" and line[1:5].isdigit())]
    text = (plain or lines or ["kubectl failed"])[-1]
    return text if len(text) <= 200 else text[:199] + "…"


def kubectl_error(stderr: str, selector: KubeSelector) -> str:
    """One line for a failed `kubectl get pods`, naming what to fix."""
    lowered = stderr.lower()
    if "forbidden" in lowered:
        return (
            f"kubectl: forbidden: the current user may not list pods in namespace {selector.namespace} "
            "(RBAC needs get/list on pods)"
        )
    if "context was not found" in lowered or ("context" in lowered and "does not exist" in lowered):
        return f"kubectl: context {selector.context!r} not found in the kubeconfig"
    if (
        "current-context is not set" in lowered
        or "no configuration has been provided" in lowered
        or "localhost:8080" in lowered
    ):
        return "kubectl has no current context (no kubeconfig: set KUBECONFIG, or give --context NAME)"
    return f"kubectl get pods failed: {_last_line(stderr)}"
