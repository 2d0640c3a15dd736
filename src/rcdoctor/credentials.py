"""Where passwords come from: REDISCLI_AUTH (the variable redis-cli reads) or a password file.

Kept apart from transport/redis_py.py so that the probes, which must start fast, need not import redis-py.
"""

from __future__ import annotations

import os
from pathlib import Path

from rcdoctor.errors import UsageError
from rcdoctor.model.address import Secret

PASSWORD_ENV = "REDISCLI_AUTH"  # the variable redis-cli reads: users already have it set


def read_password_file(path: str) -> Secret:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read password file {path}: {exc.strerror or exc}") from None
    if not text.strip("\r\n"):
        # An empty file would send an empty password and read as "refused the credentials" later.
        raise UsageError(f"password file {path} is empty")
    return Secret(text.rstrip("\r\n"))


def password_from_env() -> Secret | None:
    value = os.environ.get(PASSWORD_ENV)
    return Secret(value) if value else None


def check_tls_files(**files: str | None) -> None:
    """--cacert/--cert/--key name readable files, else one line naming the option (instead of the TLS
    library's `Error 2 connecting … No such file or directory` once per node)."""
    for option, path in files.items():
        if path is None:
            continue
        name = "--" + option.replace("_", "-")
        target = Path(path)
        if not target.exists():
            raise UsageError(f"{name} {path}: no such file")
        if not target.is_file():
            raise UsageError(f"{name} {path}: not a file")
        try:
            with target.open("rb"):
                pass
        except OSError as exc:
            raise UsageError(f"{name} {path}: cannot read: {exc.strerror or exc}") from None
