"""A tiny Kubernetes API server for tests: serves recorded documents to the real kubectl binary.

Only what `kubectl get pods -n NS -l SEL -o json` and `kubectl get nodes -o json` ask for: API discovery,
the namespaced pod list and the node list (or a 403 Status document for either). Every request is
recorded, so a test checks the namespace and label selector kubectl sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).parent / "data" / "k8s"

API_VERSIONS = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
API_GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
V1_RESOURCES = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "shortNames": ["po"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "name": "nodes",
            "singularName": "node",
            "namespaced": False,
            "kind": "Node",
            "shortNames": ["no"],
            "verbs": ["get", "list", "watch"],
        },
    ],
}


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def as_api_list(kubectl_list: dict[str, Any], kind: str) -> dict[str, Any]:
    """What the API server sends for a list (kubectl prints it as `kind: List`)."""
    return {
        "kind": kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "48211234"},
        "items": kubectl_list["items"],
    }


def matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors (`k=v,k2=v2`), the form the tests send."""
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


@dataclass
class Cluster:
    """What one fake API server answers. `pods`/`nodes`: a kubectl List document, or None for 403."""

    pods: dict[str, Any] | None
    nodes: dict[str, Any] | None
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    port: int = 0

    def pod_requests(self) -> list[tuple[str, dict[str, list[str]]]]:
        return [r for r in self.requests if r[0].endswith("/pods")]


def _handler(cluster: Cluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            cluster.requests.append((parts.path, parse_qs(parts.query)))
            status, body = self._answer(parts.path, parse_qs(parts.query).get("labelSelector", [""])[0])
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, path: str, selector: str) -> tuple[int, Any]:
            if path == "/api":
                return 200, API_VERSIONS
            if path == "/apis":
                return 200, API_GROUPS
            if path == "/api/v1":
                return 200, V1_RESOURCES
            if path.startswith("/api/v1/namespaces/") and path.endswith("/pods"):
                if cluster.pods is None:
                    return 403, load("status-forbidden-pods.json")
                namespace = path.split("/")[4]
                items = [
                    p
                    for p in cluster.pods["items"]
                    if p["metadata"]["namespace"] == namespace and matches(p["metadata"].get("labels", {}), selector)
                ]
                return 200, as_api_list({"items": items}, "PodList")
            if path == "/api/v1/nodes":
                if cluster.nodes is None:
                    return 403, load("status-forbidden-nodes.json")
                return 200, as_api_list(cluster.nodes, "NodeList")
            return 404, {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
                "message": f"the server could not find the requested resource ({path})",
            }

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def api_server(cluster: Cluster) -> Iterator[Cluster]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cluster))
    cluster.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield cluster
    finally:
        server.shutdown()
        server.server_close()


def write_kubeconfig(path: Path, servers: dict[str, int], current: str | None) -> Path:
    """A kubeconfig with one context per server (name -> port); `current` None leaves no current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": f"http://127.0.0.1:{p}"}} for n, p in servers.items()],
        "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "tester"}} for n in servers],
    }
    if current is not None:
        config["current-context"] = current
    path.write_text(json.dumps(config))
    return path
