"""Planning the config phase: announce settings that keep re-asserting a wrong address (C006).

A node whose `cluster-announce-ip` (or -port, -bus-port) names a place where it cannot be reached puts
that value in the header of every gossip packet it sends; its peers take it over at the next ping. A
CLUSTER MEET at the address where it really answers is therefore undone within a second: the meet phase
never plans one for such a node. The repair is the setting itself, a `CONFIG SET` on the node, behind
--fix-announce-config because it changes the runtime value only (the config file or pod spec still holds
the wrong value and brings it back at the next restart) and because behind NAT the address rcdoctor
reaches may not be the one the peers must use. Without the flag the plan says exactly what a human must
change. After the setting is fixed, the next round's meet phase (if any MEET is still needed) sticks.

`undone` is the executor's loop guard for this cause: a step that ran, whose precondition held, and that
the next plan needs again, was undone by something; when that something is an announce setting heal
names it and stops at once instead of retrying.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rcdoctor.checks.config.c006_announce_mismatch import ANNOUNCE_IP, Misannounce, misannounced
from rcdoctor.model.address import parse_hostport
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.conditions import AnswersAs, ConfigIs
from rcdoctor.plan.steps import Flags, Step

FIX_ANNOUNCE = "--fix-announce-config"
ANNOUNCE_RISK = (
    "the runtime value only: the same wrong value is in the config file / pod spec and comes back at the next "
    "restart; behind NAT the address rcdoctor reaches may not be the one peers must use"
)


def undoing(ctx: ClusterView) -> Mapping[str, tuple[Misannounce, ...]]:
    """Nodes whose announce settings are in effect and unusable: a MEET for them would be undone."""
    found = {i: tuple(p for p in problems if p.critical) for i, problems in misannounced(ctx).items()}
    return {i: problems for i, problems in found.items() if problems}


def config_fixes(ctx: ClusterView, flags: Flags, blocked: list[str]) -> list[Step]:
    """One CONFIG SET per wrong announce setting in effect, with --fix-announce-config; else a line for a
    human saying what to change where."""
    steps: list[Step] = []
    for node_id, problems in undoing(ctx).items():
        for p in problems:
            command = ("CONFIG", "SET", p.setting, p.fix_value)
            if p.human:
                # What the node dials from is part of how it is networked (bind, pod spec): not heal's to change.
                blocked.append(human_line(p))
            elif flags.fix_announce:
                steps.append(
                    Step(
                        p.address,
                        command,
                        f"{p.setting} is {p.value}: {', '.join(p.given)} give {p.announced}, where it cannot be "
                        f"reached; it answers at {p.address}. Set to {_shown(p.fix_value)}: {p.fix_reason}. "
                        f"Caveat: {ANNOUNCE_RISK}",
                        ("C006",),
                        (AnswersAs(p.address, node_id), ConfigIs(p.address, node_id, p.setting, p.value)),
                    )
                )
            else:
                blocked.append(human_line(p))
    return steps


def human_line(p: Misannounce) -> str:
    """What is not done for this setting and what a human must change (or which flag lets heal do it)."""
    endpoint = parse_hostport(p.address)
    if p.human:
        return (
            f"C006 {p.address} ({p.node_id[:8]}): {p.setting} is {p.value}, where it does not listen: its peers "
            f"take the source address of its bus connections and send everyone to {p.announced}; no MEET is "
            f"planned for it. For a human (heal does not change how a node is networked): set {p.setting} to "
            f"{p.fix_value} or add {p.value} to `bind`, in the config file or pod spec, and now run `redis-cli -h "
            f"{endpoint.host} -p {endpoint.port} {p.fix_command()}`"
        )
    return (
        f"C006 {p.address} ({p.node_id[:8]}): {p.setting} is {p.value}, so peers and clients are sent to "
        f"{p.announced}, where it cannot be reached; no MEET is planned for it (the node re-announces the "
        f"configured value with its next gossip packet). A human must change {p.setting} in the node's config "
        f"file or pod spec (the env variable or argument that sets it) to {_shown(p.fix_value)}: {p.fix_reason}; "
        f"and now run `redis-cli -h {endpoint.host} -p {endpoint.port} {p.fix_command()}`; or run heal with "
        f"{FIX_ANNOUNCE} ({ANNOUNCE_RISK})"
    )


def _shown(value: str) -> str:
    return '"" (unset it)' if value == "" else value


def targets(steps: Iterable[Step]) -> set[str]:
    """Node ids whose setting a config step changes."""
    return {e.node_id for s in steps for e in s.expect if e.kind == "config-is"}


def undone(ctx: ClusterView, repeated: Iterable[Step]) -> str | None:
    """Why steps that ran (precondition held) are needed again, when an announce setting explains it: one
    line naming the node and the setting, or None (not this cause: the general guard decides)."""
    problems = misannounced(ctx)
    for step in repeated:
        target = next((e for e in step.expect if e.kind in ("config-is", "answers-as")), None)
        if target is None:
            continue
        found = [p for p in problems.get(target.node_id, ()) if p.in_effect]
        if step.command[:2] == ("CONFIG", "SET") and found:
            p = next((q for q in found if q.setting == step.command[2]), found[0])
            return (
                f"{step.describe()} ran, and {p.setting} on {p.address} is {p.value} again: something re-applies "
                "it (a Kubernetes operator, a config-management run, a sidecar, the pod restarting with its "
                "spec); change it where it comes from"
            )
        if step.command[:2] == ("CLUSTER", "MEET") and found:
            p = found[0]
            return (
                f"{step.describe()} ran and was undone: {p.address} ({p.node_id[:8]}) announces {p.setting} "
                f"{p.value}, which its peers take over at its next ping; fix the setting ({FIX_ANNOUNCE}, or "
                "the config file / pod spec)"
            )
        sample = ctx.own.get(target.node_id)
        if step.command[:2] == ("CLUSTER", "MEET") and sample is not None and not sample.config:
            # CONFIG GET was refused (an ACL user without it): the announce settings are not seen, but
            # only the node's own announcement can take back what a MEET that ran taught its peers.
            return (
                f"{step.describe()} ran and was undone: its peers list {target.node_id[:8]} at the old "
                f"address again, so the node itself announces it; most likely {ANNOUNCE_IP} or "
                "cluster-announce-port in its configuration (rcdoctor could not read its CONFIG)"
            )
    return None
