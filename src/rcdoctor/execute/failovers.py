"""Failover handling around heal phases: holding replica elections while nodes reconnect, and waiting
for a promotion that CLUSTER FAILOVER only starts."""

from __future__ import annotations

import time
from collections.abc import Callable

from rcdoctor.errors import EXIT_CRITICAL, DoctorError
from rcdoctor.execute.journal import Journal
from rcdoctor.model.address import parse_hostport
from rcdoctor.plan.heal import Phase
from rcdoctor.plan.steps import HOLD, HoldFailovers
from rcdoctor.transport.errors import TransportError, classify
from rcdoctor.transport.options import ConnectOptions
from rcdoctor.transport.redis_py import node_client


class PromotionTimeout(DoctorError):
    """A replica told to fail over was not a primary in time."""

    exit_code = EXIT_CRITICAL  # the cluster is still unhealthy


def hold_failovers(
    hold: HoldFailovers, options: ConnectOptions, journal: Journal, log: Callable[[str], None]
) -> dict[str, str]:
    """The planned hold: cluster-replica-no-failover yes on each replica; address -> value to restore."""
    held: dict[str, str] = {}
    for address in hold.replicas:
        try:
            with node_client(parse_hostport(address), options) as c:
                before = str(c.config_get(HOLD).get(HOLD, "no"))
                if before != "yes":
                    journal.write("hold-failover", node=address, before=before)
                    c.config_set(HOLD, "yes")
                    held[address] = before
        except (TransportError, OSError) as exc:
            log(f"  note    {address}: cannot hold failovers ({classify(exc).message})")
    if held:
        log(f"  held failovers on {len(held)} replica(s) while nodes reconnect ({HOLD} yes, restored after)")
    return held


def release_failovers(
    held: dict[str, str], options: ConnectOptions, journal: Journal, log: Callable[[str], None]
) -> None:
    for address, before in held.items():
        try:
            with node_client(parse_hostport(address), options) as c:
                c.config_set(HOLD, before)
            journal.write("release-failover", node=address, value=before)
        except (TransportError, OSError) as exc:
            log(f"  WARNING {address}: could not restore {HOLD} {before}: {classify(exc).message}; set it by hand")


def await_promotions(phase: Phase, options: ConnectOptions, log: Callable[[str], None]) -> None:
    """CLUSTER FAILOVER answers OK at once; the election follows (votes of a majority of primaries)."""
    deadline = time.monotonic() + 30.0
    for step in phase.steps:
        while True:
            try:
                with node_client(parse_hostport(step.node), options) as c:
                    if c.info("replication").get("role") == "master":
                        log(f"  {step.node} is a primary now")
                        break
            except (TransportError, OSError):
                pass
            if time.monotonic() > deadline:
                raise PromotionTimeout(f"{step.node} was not promoted within 30s of CLUSTER FAILOVER")
            time.sleep(0.1)
