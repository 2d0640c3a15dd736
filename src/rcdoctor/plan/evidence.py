"""The safety invariant of every plan that changes membership: nothing is forgotten, failed over or
given away on a guess.

A node that answers nowhere rcdoctor dialled is not proven gone while any node is seen to have moved:
every pod may have been recreated at once, and the silent ones may be alive at addresses nobody gave.
Such a node is left alone, even with --forget-down or --allow-*, until it is proven gone: a complete
Kubernetes inventory without it, or the operator naming it (--forget ID).
"""

from __future__ import annotations

from collections.abc import Iterable

from rcdoctor.model.view import ClusterView
from rcdoctor.plan.steps import Flags


def named(flags: Flags, node_id: str) -> bool:
    """The operator named this node as gone (--forget takes a full id or a prefix of 8+ characters)."""
    return any(node_id.startswith(given) for given in flags.forget)


def unproven(ctx: ClusterView, node_id: str, flags: Flags) -> bool:
    """True when no step may forget, fail over or give away the slots of `node_id`."""
    suspect = ctx.may_be_elsewhere(node_id) or (node_id in flags.suspects and node_id not in ctx.answers_at)
    return suspect and node_id not in ctx.proven_gone and not named(flags, node_id)


def missing(ctx: ClusterView, node_ids: Iterable[str], what: str) -> str:
    """One line: what is not done, which evidence is missing, and how to give it."""
    ids = list(dict.fromkeys(node_ids))
    moved = list(ctx.moved)
    shown = ", ".join(f"{i[:8]} ({ctx.address(i) or 'no address'})" for i in ids[:6])
    more = f" and {len(ids) - 6} more" if len(ids) > 6 else ""
    if moved:
        why = (
            f"{len(moved)} node(s) answer at new addresses ({', '.join(i[:8] for i in moved[:4])}"
            f"{'…' if len(moved) > 4 else ''})"
        )
    else:
        why = "nodes were found at new addresses earlier in this run"
    return (
        f"not {what} {shown}{more}: {why}, so these may be alive at "
        "addresses rcdoctor was not given; give every node's address (the headless Service name, "
        "k8s:NAMESPACE/SELECTOR, or the pod IPs from `kubectl get pods -o wide`), or name a node you know is "
        "gone with --forget ID"
    )
