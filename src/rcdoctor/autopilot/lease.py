"""One actor at a time: a lease with a fencing token, re-checked right before every change.

`file:PATH` (the lab, one machine): an exclusive flock on PATH held for as long as this autopilot leads,
and a counter in the file (the fencing token) raised by every new holder. The fence re-reads the file by
its path: a holder whose file was replaced, or whose token is no longer the file's, stops.

`k8s:NAMESPACE/NAME`: a coordination.k8s.io/v1 Lease through kubectl. Taken when free or expired (renewTime
+ leaseDurationSeconds in the past), renewed every round; every write is a `kubectl replace` carrying the
resourceVersion read before it, so of two autopilots writing at once the API server accepts one (409
Conflict for the other). The fencing token is spec.leaseTransitions, raised by each new holder; the fence
reads the Lease again and stops unless it is still ours, unexpired, with our token.

Both records also keep the cluster's last repair, so a new leader honours the block period of the last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from rcdoctor.autopilot.decide import Repair
from rcdoctor.errors import DoctorError, UsageError

KUBECTL = "kubectl"
ANNOTATION = "rcdoctor.io/last-repair"


def identity() -> str:
    """Who holds the lease: the host (the pod's name in Kubernetes) and the process."""
    return f"{socket.gethostname()}/{os.getpid()}"


class Lease(Protocol):
    spec: str
    holder: str
    token: int | None  # the fencing token while this autopilot holds the lease, else None

    def acquire(self) -> str | None:
        """Take or renew the lease: None when this autopilot holds it, else who does (or why not)."""

    def fence(self) -> str | None:
        """Right before a change: None while the lease is still ours, else why it is not."""

    def last_repair(self) -> Repair | None: ...

    def record_repair(self, repair: Repair) -> None: ...

    def release(self) -> None: ...


def parse_lease(spec: str, default_path: Path, *, kube_context: str | None = None, duration: float = 15.0) -> Lease:
    kind, sep, rest = spec.partition(":")
    if spec == "file":
        return FileLease(default_path)
    if sep and kind == "file" and rest:
        return FileLease(Path(rest).expanduser())
    if sep and kind == "k8s":
        namespace, slash, name = rest.partition("/")
        if slash and namespace and name and "/" not in name:
            return KubeLease(namespace, name, duration=duration, context=kube_context)
    raise UsageError(f"bad --lease {spec!r}: expected file:PATH or k8s:NAMESPACE/NAME")


def _repair(data: object) -> Repair | None:
    if not isinstance(data, dict):
        return None
    try:
        return Repair(float(data["at"]), tuple(str(k) for k in data["keys"]), str(data["result"]))
    except (KeyError, TypeError, ValueError):
        return None


class FileLease:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.spec = f"file:{path}"
        self.holder = identity()
        self.token: int | None = None
        self._fd: int | None = None

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        assert self._fd is not None
        body = json.dumps(data, sort_keys=True).encode()
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, body)
        os.fsync(self._fd)

    def acquire(self) -> str | None:
        if self._fd is not None:
            return None if self.fence() is None else self._lost()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            return f"cannot open the lease file {self.path}: {exc.strerror or exc}"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return f"held by {self._read().get('holder', 'another autopilot')} ({self.spec})"
        self._fd = fd
        data = self._read()
        token = int(data.get("token", 0)) + 1
        self._write({**data, "token": token, "holder": self.holder, "acquired": time.time()})
        self.token = token
        return None

    def _lost(self) -> str:
        why = self.fence() or "lost"
        self.release()
        return why

    def fence(self) -> str | None:
        if self._fd is None or self.token is None:
            return f"the lease {self.spec} is not held"
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except OSError:
            same = False
        if not same:
            return f"the lease file {self.path} was replaced"
        now = self._read().get("token")
        if now != self.token:
            return f"fencing token is {now}, ours {self.token}: another autopilot took the lease"
        return None

    def last_repair(self) -> Repair | None:
        return _repair(self._read().get("last_repair"))

    def record_repair(self, repair: Repair) -> None:
        if self._fd is not None and self.fence() is None:
            self._write({**self._read(), "last_repair": asdict(repair)})

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the descriptor drops the flock
        self._fd, self.token = None, None


def _micro(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        with contextlib.suppress(ValueError):
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
    return None


class KubeError(DoctorError):
    """kubectl failed or refused while taking, renewing or releasing the Lease."""


class KubeLease:
    def __init__(
        self, namespace: str, name: str, *, duration: float = 15.0, context: str | None = None, kubectl: str = KUBECTL
    ) -> None:
        self.namespace, self.name = namespace, name
        self.spec = f"k8s:{namespace}/{name}"
        self.duration = max(1, round(duration))
        self.context = context
        self.kubectl = kubectl
        self.holder = identity()
        self.token: int | None = None
        self._version: str | None = None  # resourceVersion of our last write

    def _run(self, *args: str, document: dict[str, Any] | None = None) -> tuple[int, str, str]:
        cmd = [self.kubectl, *(["--context", self.context] if self.context else []), "-n", self.namespace, *args]
        try:
            done = subprocess.run(
                cmd,
                input=json.dumps(document) if document is not None else None,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except FileNotFoundError:
            raise KubeError(f"{self.kubectl} not found on PATH (a k8s: lease is kept through kubectl)") from None
        except subprocess.TimeoutExpired:
            raise KubeError(f"kubectl {args[0]} lease gave no answer within 10s") from None
        return done.returncode, done.stdout, done.stderr

    def _get(self) -> dict[str, Any] | None:
        code, out, err = self._run("get", "lease", self.name, "-o", "json")
        if code != 0:
            if "notfound" in err.lower().replace(" ", "") or "not found" in err.lower():
                return None
            raise KubeError(f"kubectl get lease {self.name}: {_last(err)}")
        try:
            doc = json.loads(out)
        except ValueError:
            raise KubeError("kubectl get lease printed no valid JSON") from None
        if not isinstance(doc, dict):
            raise KubeError("kubectl get lease printed JSON that is no Lease")
        return doc

    def _write(self, verb: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """create/replace; None on a conflict (someone else wrote first) or when it already exists."""
        # --validate=false: the document is ours (no hand-written field to catch) and client-side validation
        # would first download the cluster's whole OpenAPI schema, every round.
        code, out, err = self._run(verb, "--validate=false", "-o", "json", "-f", "-", document=doc)
        if code != 0:
            lowered = err.lower()
            if "conflict" in lowered or "already exists" in lowered or "modified" in lowered:
                return None
            raise KubeError(f"kubectl {verb} lease {self.name}: {_last(err)}")
        try:
            result = json.loads(out)
        except ValueError:
            raise KubeError(f"kubectl {verb} printed no valid JSON") from None
        return result if isinstance(result, dict) else None

    def _expired(self, spec: dict[str, Any], now: float) -> bool:
        renewed = _parse_micro(spec.get("renewTime")) or _parse_micro(spec.get("acquireTime")) or 0.0
        return renewed + float(spec.get("leaseDurationSeconds") or self.duration) < now

    def acquire(self) -> str | None:
        try:
            return self._acquire()
        except KubeError as exc:
            self.token = None
            return str(exc)

    def _acquire(self) -> str | None:
        now = time.time()
        doc = self._get()
        if doc is None:
            fresh = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec({}, now, 1, acquired=True),
            }
            written = self._write("create", fresh)
            if written is None:
                return f"lost the race to create {self.spec}"
            self._took(written, 1)
            return None
        spec = doc.get("spec") or {}
        ours = spec.get("holderIdentity") == self.holder and self.token == spec.get("leaseTransitions")
        if not ours and spec.get("holderIdentity") and not self._expired(spec, now):
            self.token = None
            return f"held by {spec['holderIdentity']} ({self.spec})"
        token = int(spec.get("leaseTransitions") or 0) + (0 if ours else 1)
        doc["spec"] = self._spec(spec, now, token, acquired=not ours)
        written = self._write("replace", doc)  # doc carries the resourceVersion just read: the fencing check
        if written is None:
            self.token = None
            return f"another autopilot wrote {self.spec} first"
        self._took(written, token)
        return None

    def _spec(self, spec: dict[str, Any], now: float, token: int, *, acquired: bool) -> dict[str, Any]:
        return {
            **spec,
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration,
            "acquireTime": _micro(now) if acquired else spec.get("acquireTime", _micro(now)),
            "renewTime": _micro(now),
            "leaseTransitions": token,
        }

    def _took(self, written: dict[str, Any], token: int) -> None:
        self.token = token
        self._version = str((written.get("metadata") or {}).get("resourceVersion") or "")

    def fence(self) -> str | None:
        if self.token is None:
            return f"the lease {self.spec} is not held"
        try:
            doc = self._get()
        except KubeError as exc:
            return str(exc)
        spec = (doc or {}).get("spec") or {}
        if spec.get("holderIdentity") != self.holder or spec.get("leaseTransitions") != self.token:
            return f"{self.spec} is now held by {spec.get('holderIdentity') or 'nobody'}"
        if self._expired(spec, time.time()):
            return f"our lease {self.spec} expired"
        return None

    def last_repair(self) -> Repair | None:
        try:
            doc = self._get()
        except KubeError:
            return None
        text = ((doc or {}).get("metadata") or {}).get("annotations", {}).get(ANNOTATION)
        try:
            return _repair(json.loads(text)) if isinstance(text, str) else None
        except ValueError:
            return None

    def record_repair(self, repair: Repair) -> None:
        with contextlib.suppress(KubeError):
            doc = self._get()
            if doc is None or self.fence() is not None:
                return
            metadata = doc.setdefault("metadata", {})
            metadata.setdefault("annotations", {})[ANNOTATION] = json.dumps(asdict(repair))
            self._write("replace", doc)

    def release(self) -> None:
        self.token = None  # the Lease expires by itself; another autopilot takes it then


def _last(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (lines or ["failed"])[-1][:200]
