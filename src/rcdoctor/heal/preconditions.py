"""Preconditions of heal steps, checked on the live cluster right before each step runs.

A plan can be seconds old: a node may have moved, come back or been forgotten since. Each check answers
None (it holds: run the step), ("skipped", why) (the step's work is done or moot) or ("failed", why)
(the plan no longer fits the cluster: stop). Conditions that gossip makes true a moment after a MEET
("knows", "owns-none") are polled for up to 15 s.
"""

from __future__ import annotations

import time

from rcdoctor.heal.plan import Expect
from rcdoctor.model.address import parse_hostport
from rcdoctor.transport.errors import TransportError, classify
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import NodeClient, node_client


def check(expect: Expect, options: ConnectOptions) -> tuple[str, str] | None:
    """None when the precondition holds; otherwise what to do instead of the step."""
    if expect.kind in ("knows", "owns-none"):  # gossip needs a moment after a MEET: wait for it
        deadline = time.monotonic() + 15.0
        while True:
            verdict = _check_once(expect, options)
            if verdict is None or verdict[0] != "failed" or time.monotonic() > deadline:
                return verdict  # holds, or moot (skipped): only a not-yet is worth waiting for
            time.sleep(0.1)
    return _check_once(expect, options)


def _config(c: NodeClient, setting: str) -> str:
    reply = c.execute_command("CONFIG", "GET", setting)
    if isinstance(reply, dict):  # RESP3 or a client that pairs the reply
        value = reply.get(setting, reply.get(setting.encode(), ""))
    else:
        value = reply[1] if isinstance(reply, list | tuple) and len(reply) > 1 else ""
    return (value.decode() if isinstance(value, bytes) else str(value)).strip()


def _check_once(expect: Expect, options: ConnectOptions) -> tuple[str, str] | None:
    if not expect.address:
        # A node its peers list with no address (noaddr: its address answers with another id now) cannot
        # answer anywhere: silent by construction. Any other expectation about it cannot be checked.
        if expect.kind == "silent":
            return None
        return "failed", f"precondition: {expect.node_id[:8]} has no address to check"
    try:
        with node_client(parse_hostport(expect.address), options, timeout=max(options.timeout, 2.0)) as c:
            my_id = str(c.execute_command("CLUSTER", "MYID"))
            wanted = ("replica-of", "owns-none", "alone", "knows")
            view = str(c.execute_command("CLUSTER", "NODES")) if expect.kind in wanted else ""
            setting, _, wrong = expect.other.partition(" ")
            now = _config(c, setting) if expect.kind == "config-is" else ""
    except (TransportError, OSError) as exc:
        if expect.kind == "silent":
            return None
        return "failed", f"precondition: {expect.address} does not answer ({classify(exc).message})"
    if expect.kind == "silent":
        if my_id == expect.node_id:
            return "skipped", f"{expect.node_id[:8]} answers again at {expect.address}: no failover"
        return None
    if expect.kind == "config-is":
        if my_id != expect.node_id:
            return "failed", f"precondition: {expect.address} is {my_id[:8]} now"
        # Someone fixed it meanwhile: nothing to do. Any other value is a change heal did not plan for.
        return None if now == wrong else ("skipped", f"{setting} is {now or '(unset)'} now on {expect.address}")
    if expect.kind == "answers-as":
        return None if my_id == expect.node_id else ("failed", f"precondition: {expect.address} is {my_id[:8]} now")
    lines = {f[0]: f for f in (ln.split() for ln in view.splitlines()) if f}
    if expect.kind == "alone":
        if my_id != expect.node_id:
            return "failed", f"precondition: {expect.address} is {my_id[:8]} now"
        return None if len(lines) == 1 else ("skipped", f"{expect.address} has joined already")
    if expect.kind == "knows":
        entry = lines.get(expect.other)
        if entry is None or "handshake" in entry[2]:
            return "failed", f"precondition: {expect.address} does not list {expect.other[:8]} yet"
        return None
    if expect.kind == "replica-of":
        mine = lines.get(my_id)
        if my_id != expect.node_id or mine is None or mine[3] != expect.other:
            return "skipped", f"{expect.address} no longer replicates {expect.other[:8]}"
        return None
    if expect.kind == "owns-none":
        entry = lines.get(expect.node_id)
        if entry is None:
            return "skipped", "already forgotten"
        if any(not part.startswith("[") for part in entry[8:]):
            return "failed", f"precondition: {expect.node_id[:8]} still owns slots in {expect.address}'s view"
        return None
    return "failed", f"unknown precondition {expect.kind}"
