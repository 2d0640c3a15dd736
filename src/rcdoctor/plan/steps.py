"""What a heal plan is made of: steps with their preconditions and risks, phases, the plan, the flags
that allow risky steps, and the facts read from the live cluster for planning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rcdoctor.model.address import is_ip
from rcdoctor.model.command import brief
from rcdoctor.model.key_diff import Tally
from rcdoctor.plan.conditions import Condition
from rcdoctor.plan.resume import Closing

RISK_FORCE = "--allow-failover-force"
RISK_TAKEOVER = "--allow-takeover"
RISK_DISCARD = "--allow-discard-replica-copy"
REBUILD = "--rebuild-from-keys"


@dataclass(frozen=True)
class Stray:
    """Keys of a slot on a node that does not own it, to be returned to the owner (execute/strays.py)."""

    slot: int
    holder: str  # node id holding keys it should not
    holder_address: str
    owner: str  # node id owning the slot
    owner_address: str
    keys: int  # as counted by the collector


@dataclass(frozen=True)
class Flags:
    failover_force: bool = False
    takeover: bool = False
    discard_copy: bool = False  # flush a restarted replica's stale copy so it can replicate again
    forget_down: bool = False  # also forget slotless nodes that are merely down (they may come back)
    rebuild: bool = False  # no cluster left (every node knows only itself): rebuild it from the keys
    # CONFIG SET a cluster-announce-* value that sends peers where the node cannot be reached (C006): the
    # runtime value only, the config file / pod spec keeps the wrong one (see config.py)
    fix_announce: bool = False
    # Node ids (or 8+ character prefixes) the operator says are gone for good: the only proof heal takes
    # for a node that may have moved (see evidence.py)
    forget: tuple[str, ...] = ()
    # Ids that looked moved earlier in this heal run (session memory, not a user flag): still not proven gone
    suspects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Salvage:
    """Before a node's copy of `slots` is flushed: keys only it holds are copied to `owner` (MIGRATE COPY),
    and every key it holds that the owner lacks or holds differently is written to a divergence file.
    Different values stop the step unless `allow_conflicts` (the copy's values then survive only in the
    file)."""

    copy: str  # the id of the node holding the stale copy (the step's node)
    owner: str
    owner_address: str
    slots: tuple[int, ...]
    allow_conflicts: bool = False


HOLD = "cluster-replica-no-failover"


@dataclass(frozen=True)
class HoldFailovers:
    """Replicas' elections held while a phase runs and settles: CONFIG SET cluster-replica-no-failover yes
    on each of these replicas first, and each put back to its own value after the phase (even when it
    fails). As nodes reconnect they swap failure reports gathered while they could not see each other,
    and a replica would win an election against a primary that is alive."""

    replicas: tuple[str, ...]  # addresses of the replicas that answered when the phase was planned

    def describe(self) -> str:
        return (
            f"first, on every replica ({len(self.replicas)}): CONFIG SET {HOLD} yes, put back as it was after "
            "the phase (a replica must not take over from a primary that is only reconnecting)"
        )


@dataclass(frozen=True)
class Step:
    node: str  # address the command is sent to
    command: tuple[str, ...]
    why: str
    answers: tuple[str, ...]  # finding codes this step answers
    expect: tuple[Condition, ...] = ()  # re-checked on the live node right before the step
    risk: str | None = None  # None: cannot lose data
    salvage: Salvage | None = None  # run right before the command (a FLUSHALL of a stale copy)

    def describe(self) -> str:
        return f"{self.node}: {brief(self.command)}"

    @property
    def resolves_name(self) -> str | None:
        """A MEET's target given as a DNS name: resolved to its IP right before the MEET is sent, as the
        server takes an IP only (execute.steps). The name, else None."""
        if self.command[:2] == ("CLUSTER", "MEET") and len(self.command) > 2 and not is_ip(self.command[2]):
            return self.command[2]
        return None


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[Step, ...] = ()
    closings: tuple[Closing, ...] = ()  # slots phase: open slots closed through the migration engine
    strays: tuple[Stray, ...] = ()  # slots phase: keys on a primary that does not own their slot
    parallel: bool = False  # FORGETs: all at once, inside the 60 s blacklist window; MEETs: all at once
    hold: HoldFailovers | None = None  # done first, undone after the phase and its settle
    promotes: bool = False  # its steps start elections: wait until each promoted replica is a primary

    @property
    def hold_failovers(self) -> bool:
        return self.hold is not None and bool(self.hold.replicas)

    @property
    def empty(self) -> bool:
        return not self.steps and not self.strays and not any(c.action != "stuck" for c in self.closings)


@dataclass(frozen=True)
class HealPlan:
    phases: tuple[Phase, ...]
    blocked: tuple[str, ...] = ()  # what heal will not do now, and why (a flag, a human decision)

    @property
    def empty(self) -> bool:
        return all(p.empty for p in self.phases)


@dataclass(frozen=True)
class Facts:
    """Read from the live cluster by the heal session for the slots the snapshot shows problems with."""

    closings: tuple[Closing, ...] = ()  # migrate.resume's decision for every open slot
    uncovered_keys: Mapping[int, Mapping[str, int | None]] = field(default_factory=dict)  # slot -> id -> keys
    offsets: Mapping[str, int] = field(default_factory=dict)  # replica id -> replication offset
    copies: Mapping[str, Tally] = field(default_factory=dict)  # stale copy's id -> its keys against the owner's
