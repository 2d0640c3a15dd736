"""Where passwords come from: REDISCLI_AUTH (the variable redis-cli reads) or a password file.

Kept apart from collect/connection.py so that the probes, which must start fast, need not import redis-py.
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
    return Secret(text.rstrip("\r\n"))


def password_from_env() -> Secret | None:
    value = os.environ.get(PASSWORD_ENV)
    return Secret(value) if value else None
