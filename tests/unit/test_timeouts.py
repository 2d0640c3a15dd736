"""--timeout is one node's reply; longer work waits by a named policy, never by a floor at a call site."""

from __future__ import annotations

import re
from pathlib import Path

from rcdoctor.transport.options import FLOORS_S, ConnectOptions

SRC = Path(__file__).resolve().parents[2] / "src" / "rcdoctor"


def test_each_policy_raises_the_timeout_to_its_floor_and_never_lowers_it() -> None:
    quick, slow = ConnectOptions(timeout=0.5), ConnectOptions(timeout=30.0)
    assert quick.timeout_for("node") == 0.5
    assert (quick.timeout_for("check"), quick.timeout_for("admin"), quick.timeout_for("bulk")) == (2.0, 5.0, 10.0)
    assert all(slow.timeout_for(policy) == 30.0 for policy in FLOORS_S)


def test_no_call_site_raises_the_timeout_by_itself() -> None:
    # max(options.timeout, 5.0) at a call site made --timeout's help untrue; such floors live in FLOORS_S
    pattern = re.compile(r"max\(\s*[\w.]*options\.timeout\s*,|max\([^)]*,\s*[\w.]*options\.timeout\s*\)")
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, f"use options.timeout_for(policy) instead: {found}"
