"""Certificates for TLS labs: a throw-away CA and one node certificate, made with the openssl CLI."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rcdoctor.errors import LabError

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


@dataclass(frozen=True)
class TlsFiles:
    ca: str
    cert: str
    key: str

    @classmethod
    def in_dir(cls, directory: str | Path) -> TlsFiles:
        d = Path(directory)
        return cls(str(d / "ca.crt"), str(d / "node.crt"), str(d / "node.key"))


def make_certificates(directory: Path) -> TlsFiles:
    """CA + a node certificate signed by it. Nodes do not check host names (Redis never does), so one
    certificate serves every node, whatever loopback IP it moves to."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise LabError("a TLS lab needs the openssl command (apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles.in_dir(directory)
    ext = directory / "node.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    steps = [
        [
            openssl,
            "req",
            "-x509",
            "-new",
            "-nodes",
            *EC_KEY,
            "-keyout",
            str(directory / "ca.key"),
            "-out",
            files.ca,
            "-days",
            "30",
            "-subj",
            "/CN=rcdoctor lab CA",
        ],
        [
            openssl,
            "req",
            "-new",
            "-nodes",
            *EC_KEY,
            "-keyout",
            files.key,
            "-out",
            str(directory / "node.csr"),
            "-subj",
            "/CN=rcdoctor lab node",
        ],
        [
            openssl,
            "x509",
            "-req",
            "-in",
            str(directory / "node.csr"),
            "-CA",
            files.ca,
            "-CAkey",
            str(directory / "ca.key"),
            "-CAcreateserial",
            "-out",
            files.cert,
            "-days",
            "30",
            "-extfile",
            str(ext),
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise LabError(f"openssl failed making lab certificates: {result.stderr.strip()[-200:]}")
    return files
