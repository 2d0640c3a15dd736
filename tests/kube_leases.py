"""A tiny Kubernetes API server for the Lease tests: what the real kubectl asks for to get, create and
replace a coordination.k8s.io/v1 Lease, with resourceVersion checked on every replace as the API server
does (409 Conflict when it is not the stored one). Every request is recorded (method, path)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

GROUP = "coordination.k8s.io"
API_GROUPS = {
    "kind": "APIGroupList",
    "apiVersion": "v1",
    "groups": [
        {
            "name": GROUP,
            "versions": [{"groupVersion": f"{GROUP}/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": f"{GROUP}/v1", "version": "v1"},
        }
    ],
}
RESOURCES = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": f"{GROUP}/v1",
    "resources": [
        {
            "name": "leases",
            "singularName": "lease",
            "namespaced": True,
            "kind": "Lease",
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        }
    ],
}


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "code": code,
        "message": message,
    }


@dataclass
class Leases:
    stored: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    version: int = 1000
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bump(self, namespace: str, name: str) -> None:
        """Someone else wrote the Lease (only its resourceVersion changes)."""
        with self.lock:
            self.version += 1
            self.stored[(namespace, name)]["metadata"]["resourceVersion"] = str(self.version)

    def answer(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return 200, API_GROUPS
        if path == "/api/v1":
            return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": []}
        if path == f"/apis/{GROUP}/v1":
            return 200, RESOURCES
        parts = path.strip("/").split("/")
        if parts[:4] != ["apis", GROUP, "v1", "namespaces"] or len(parts) < 6 or parts[5] != "leases":
            return 404, status(404, "NotFound", f"the server could not find the requested resource ({path})")
        namespace = parts[4]
        with self.lock:
            if method == "POST" and len(parts) == 6 and body is not None:
                key = (namespace, body["metadata"]["name"])
                if key in self.stored:
                    return 409, status(409, "AlreadyExists", f'leases.{GROUP} "{key[1]}" already exists')
                return 201, self._store(key, body)
            if len(parts) != 7:
                return 405, status(405, "MethodNotAllowed", "not here")
            key = (namespace, parts[6])
            if method == "GET":
                if key not in self.stored:
                    return 404, status(404, "NotFound", f'leases.{GROUP} "{key[1]}" not found')
                return 200, self.stored[key]
            if method == "PUT" and body is not None:
                if key not in self.stored:
                    return 404, status(404, "NotFound", f'leases.{GROUP} "{key[1]}" not found')
                sent = (body.get("metadata") or {}).get("resourceVersion")
                if sent != self.stored[key]["metadata"]["resourceVersion"]:
                    message = (
                        f'Operation cannot be fulfilled on leases.{GROUP} "{key[1]}": the object has been modified; '
                        "please apply your changes to the latest version and try again"
                    )
                    return 409, status(409, "Conflict", message)
                return 200, self._store(key, body)
        return 405, status(405, "MethodNotAllowed", method)

    def _store(self, key: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        doc = json.loads(json.dumps(body))
        doc.setdefault("metadata", {}).update({"namespace": key[0], "resourceVersion": str(self.version)})
        self.stored[key] = doc
        return doc


def _handler(leases: Leases) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            leases.requests.append((method, path))
            code, doc = leases.answer(method, path, body)
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def lease_server() -> Iterator[Leases]:
    leases = Leases()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(leases))
    leases.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield leases
    finally:
        server.shutdown()
        server.server_close()
