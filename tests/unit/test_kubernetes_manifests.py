"""deploy/kubernetes/: every manifest validated offline against the Kubernetes API schemas (the
kubernetes-validate package, strict: an unknown field fails), the Prometheus Operator kinds against the
schemas in tests/data/k8s-schemas, and the rcdoctor command lines in them against rcdoctor's own CLI.
The shipped redis.conf and probe commands are run for real in tests/integration/test_kubernetes_config.py."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import jsonschema
import kubernetes_validate
import pytest
import yaml

from rcdoctor.cli.app import app

ROOT = Path(__file__).parent.parent.parent
DEPLOY = ROOT / "deploy" / "kubernetes"
SCHEMAS = Path(__file__).parent.parent / "data" / "k8s-schemas"
KUBERNETES = "1.30.0"  # the oldest Kubernetes release the manifests are for (still in the vendors' support)
CRDS = {"ServiceMonitor": "servicemonitor.json", "PrometheusRule": "prometheusrule.json"}
DOCKERFILE = ROOT / "deploy" / "container" / "Dockerfile"


def documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(DEPLOY.glob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document:
                yield f"{path.name}#{index}:{document['kind']}/{document['metadata']['name']}", document


ALL = list(documents())


def validate(document: dict[str, Any]) -> None:
    kind = document["kind"]
    if kind in CRDS:
        schema = json.loads((SCHEMAS / CRDS[kind]).read_text())
        jsonschema.validate(document, schema)
    else:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_every_manifest_file_holds_documents() -> None:
    kinds = {d["kind"] for _, d in ALL}
    assert {"Deployment", "Service", "ServiceMonitor", "Role", "ClusterRole", "NetworkPolicy", "Job"} <= kinds
    assert {"StatefulSet", "PrometheusRule", "ServiceAccount"} <= kinds


@pytest.mark.parametrize(("name", "document"), ALL, ids=[n for n, _ in ALL])
def test_manifest_is_valid(name: str, document: dict[str, Any]) -> None:
    validate(document)


@pytest.mark.parametrize(
    ("kind", "damage"),
    [
        ("Deployment", lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagee="x")),
        ("Deployment", lambda d: d["spec"].update(replicas="one")),
        ("Role", lambda d: d["rules"][0].update(verb=["get"])),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(interval="15 seconds")),
        ("ServiceMonitor", lambda d: d["spec"].update(endpoint=[])),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update(exprr="up")),
    ],
)
def test_the_validators_refuse_a_damaged_copy(kind: str, damage: Any) -> None:
    """The validation above can fail: a typo or a wrong type in a copy of each kind is refused."""
    document = copy.deepcopy(next(d for _, d in ALL if d["kind"] == kind))
    damage(document)
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(document)


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def rcdoctor_command_lines() -> Iterator[tuple[str, list[str]]]:
    """Every rcdoctor invocation in the manifests: a container's args under the image's ENTRYPOINT, an
    exec probe, or a line of a `sh -c` script."""
    for name, document in ALL:
        for container in containers(document):
            if "rcdoctor" in container.get("image", "") and not container.get("command"):
                yield f"{name}:{container['name']}", list(container.get("args", []))
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command", [])
                if command[:1] == ["rcdoctor"]:
                    yield f"{name}:{container['name']}:{probe}", command[1:]
            script = " ".join(container.get("args", [])) if container.get("command", [])[:2] == ["sh", "-c"] else ""
            for line in re.split(r"[;&|\n]+", script):
                words = line.split()
                if words[:1] == ["rcdoctor"]:
                    yield f"{name}:{container['name']}:script", words[1:]


LINES = list(rcdoctor_command_lines())


def test_the_manifests_run_rcdoctor() -> None:
    commands = {args[0] for _, args in LINES}
    assert {"autopilot", "probe", "diagnose", "heal"} <= commands, commands


@pytest.mark.parametrize(("where", "args"), LINES, ids=[w for w, _ in LINES])
def test_every_rcdoctor_flag_in_a_manifest_exists(where: str, args: list[str]) -> None:
    """The flags the manifests pass are ones the command has (the probe is argparse, the rest Click)."""
    name, rest = args[0], args[1:]
    flags = [a for a in rest if a.startswith("--")]
    if name == "probe":
        from rcdoctor.cli.probe import parser

        parsed = parser().parse_args(rest)  # exits (SystemExit) on an unknown flag or a bad kind
        assert parsed.kind in ("liveness", "readiness", "startup")
        return
    command = app.commands.get(name)
    assert isinstance(command, click.Command), f"{where}: rcdoctor has no command {name!r}"
    known = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    assert not set(flags) - known, f"{where}: unknown flags {sorted(set(flags) - known)}"


def test_no_secret_on_a_command_line_or_in_the_environment() -> None:
    """Passwords reach rcdoctor and redis-server as files from the Secret, never as arguments or values."""
    for name, document in ALL:
        for container in containers(document):
            words = [*container.get("command", []), *container.get("args", [])]
            # --password-file is the way; a password itself, or redis-cli's -a, is not
            assert not any(re.search(r"requirepass|masterauth|(^|\s)(--pass(word)?|-a)(\s|=|$)", w) for w in words), (
                name
            )
            for env in container.get("env", []):
                assert "value" not in env or not re.search(r"pass|secret|token", env["name"], re.I), name


def test_rcdoctor_containers_run_unprivileged() -> None:
    for name, document in ALL:
        pod = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in containers(document):
            if "rcdoctor" not in container.get("image", ""):
                continue
            context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") and context.get("allowPrivilegeEscalation") is False, name
            assert context.get("readOnlyRootFilesystem") and context["capabilities"]["drop"] == ["ALL"], name
            assert "limits" in container.get("resources", {}) or document["kind"] == "Job", name


def test_the_headless_service_publishes_pods_that_are_not_ready() -> None:
    """The nodes, rcdoctor and the autopilot must find the pods by name precisely while the cluster is down
    (no pod Ready)."""
    (service,) = [d for _, d in ALL if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    assert service["spec"]["publishNotReadyAddresses"] is True


def test_the_dockerfile_builds_the_package_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert all(":" in image and not image.endswith(":latest") for image in stages), stages
    assert "pip wheel" in text and "COPY src ./src" in text and "COPY pyproject.toml" in text
    assert re.search(r"^USER 10001", text, re.M) and re.search(r'^ENTRYPOINT \["rcdoctor"\]', text, re.M)
    assert "kubectl" in text  # k8s: seeds and the Kubernetes Lease run kubectl
    port = re.search(r"^EXPOSE (\d+)", text, re.M)
    deployment = next(d for _, d in ALL if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert port is not None and int(port.group(1)) == container["ports"][0]["containerPort"]
