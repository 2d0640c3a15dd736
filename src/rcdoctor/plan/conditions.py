"""Preconditions of heal steps as typed data (pure): what must hold on one node right before a step runs.

A plan can be seconds old when a step runs: a node may have moved, come back or been forgotten since.
Each condition names the node it asks (`address`, expected to be `node_id`), says in words what it
checks (`describe()`, printed in the dry run) and decides from what that node answered just now
(`holds(sample) -> Ruling`), with the reason. The verdict is one of:

- holds: run the step;
- skipped: the step's work is done or moot (someone fixed it meanwhile): go on without it;
- failed: the plan no longer fits the cluster: stop.

Reading the node is execute/preconditions.py's job; deciding is here, so every rule is tested on recorded
replies (tests/unit/test_heal_conditions.py) without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Literal

from rcdoctor.model.cluster_nodes import ClusterNode

Outcome = Literal["holds", "skipped", "failed"]
HOLDS: Outcome = "holds"
SKIPPED: Outcome = "skipped"
FAILED: Outcome = "failed"


@dataclass(frozen=True)
class Ruling:
    outcome: Outcome
    reason: str = ""

    @property
    def holds(self) -> bool:
        return self.outcome == HOLDS


_HOLDS = Ruling(HOLDS)


@dataclass(frozen=True)
class Sample:
    """What one node answered when a condition was checked. `my_id` None: it did not answer (`error` says
    why); `view` is its CLUSTER NODES parsed by model/ (read only when the condition needs it); `config`
    the settings read (only the one the condition names)."""

    address: str
    my_id: str | None = None
    error: str = ""
    view: tuple[ClusterNode, ...] = ()
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def entry(self, node_id: str) -> ClusterNode | None:
        return next((e for e in self.view if e.id == node_id), None)


@dataclass(frozen=True)
class _Condition:
    address: str  # the node asked
    node_id: str  # who is expected to answer there (or, for OwnsNone, whose slots are looked at)

    kind: ClassVar[str]
    reads_view: ClassVar[bool] = False  # needs the node's CLUSTER NODES
    # Gossip makes it true a moment after a MEET: the executor polls (bounded) while it fails
    settles_by_gossip: ClassVar[bool] = False

    @property
    def setting(self) -> str | None:
        """The configuration setting the check reads, if any."""
        return None

    def describe(self) -> str:
        raise NotImplementedError

    def holds(self, sample: Sample) -> Ruling:
        if sample.my_id is None:
            return self.unanswered(sample)
        return self.decide(sample, sample.my_id)

    def unanswered(self, sample: Sample) -> Ruling:
        if not self.address:
            # Its peers list it with no address (noaddr): nothing can be asked.
            return Ruling(FAILED, f"precondition: {self.node_id[:8]} has no address to check")
        return Ruling(FAILED, f"precondition: {self.address} does not answer ({sample.error})")

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        raise NotImplementedError

    def _is_someone_else(self, my_id: str) -> Ruling | None:
        if my_id != self.node_id:
            return Ruling(FAILED, f"precondition: {self.address} is {my_id[:8]} now")
        return None


@dataclass(frozen=True)
class AnswersAs(_Condition):
    """The node at `address` is still `node_id` (not another node that took the address)."""

    kind: ClassVar[str] = "answers-as"

    def describe(self) -> str:
        return f"{self.address} answers as {self.node_id[:8]}"

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        return self._is_someone_else(my_id) or _HOLDS


@dataclass(frozen=True)
class Silent(_Condition):
    """`node_id` still does not answer at `address` (before a failover that replaces it)."""

    kind: ClassVar[str] = "silent"

    def describe(self) -> str:
        return f"{self.node_id[:8]} still does not answer at {self.address}"

    def unanswered(self, sample: Sample) -> Ruling:
        return _HOLDS  # silent, or with no address at all: silent by construction

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        if my_id == self.node_id:
            return Ruling(SKIPPED, f"{self.node_id[:8]} answers again at {self.address}: no failover")
        return _HOLDS  # another node answers there: the one expected is still gone


@dataclass(frozen=True)
class ReplicaOf(_Condition):
    """The node at `address` is still `node_id` and still replicates `primary`."""

    primary: str = ""
    kind: ClassVar[str] = "replica-of"
    reads_view: ClassVar[bool] = True

    def describe(self) -> str:
        return f"{self.address} still replicates {self.primary[:8]}"

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        mine = sample.entry(my_id)
        if my_id != self.node_id or mine is None or mine.primary_id != self.primary:
            return Ruling(SKIPPED, f"{self.address} no longer replicates {self.primary[:8]}")
        return _HOLDS


@dataclass(frozen=True)
class OwnsNone(_Condition):
    """In the view of the node at `address`, `node_id` owns no slot (before it is forgotten)."""

    kind: ClassVar[str] = "owns-none"
    reads_view: ClassVar[bool] = True
    settles_by_gossip: ClassVar[bool] = True

    def describe(self) -> str:
        return f"{self.node_id[:8]} owns no slots in {self.address}'s view"

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        entry = sample.entry(self.node_id)
        if entry is None:
            return Ruling(SKIPPED, "already forgotten")
        if entry.slots:
            return Ruling(FAILED, f"precondition: {self.node_id[:8]} still owns slots in {self.address}'s view")
        return _HOLDS


@dataclass(frozen=True)
class Alone(_Condition):
    """The node at `address` is `node_id` and knows only itself (before it is met into the cluster)."""

    kind: ClassVar[str] = "alone"
    reads_view: ClassVar[bool] = True

    def describe(self) -> str:
        return f"{self.address} is {self.node_id[:8]} and still knows only itself"

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        wrong = self._is_someone_else(my_id)
        if wrong is not None:
            return wrong
        return (
            _HOLDS if len({e.id for e in sample.view}) == 1 else Ruling(SKIPPED, f"{self.address} has joined already")
        )


@dataclass(frozen=True)
class Knows(_Condition):
    """The node at `address` lists `peer`, past the handshake (before it is told to replicate it)."""

    peer: str = ""
    kind: ClassVar[str] = "knows"
    reads_view: ClassVar[bool] = True
    settles_by_gossip: ClassVar[bool] = True

    def describe(self) -> str:
        return f"{self.address} lists {self.peer[:8]} (waits up to 15 s for gossip)"

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        entry = sample.entry(self.peer)
        if entry is None or "handshake" in entry.flags:
            return Ruling(FAILED, f"precondition: {self.address} does not list {self.peer[:8]} yet")
        return _HOLDS


@dataclass(frozen=True)
class ConfigIs(_Condition):
    """The node at `address` is `node_id` and its `name` is still `value` (the value heal replaces)."""

    name: str = ""
    value: str = ""
    kind: ClassVar[str] = "config-is"

    @property
    def setting(self) -> str | None:
        return self.name

    def describe(self) -> str:
        return f"{self.address} is {self.node_id[:8]} and its {self.name} is still {self.value}"

    def decide(self, sample: Sample, my_id: str) -> Ruling:
        wrong = self._is_someone_else(my_id)
        if wrong is not None:
            return wrong
        now = sample.config.get(self.name, "")
        # Someone fixed it meanwhile: nothing to do. Any other value is a change heal did not plan for.
        return (
            _HOLDS if now == self.value else Ruling(SKIPPED, f"{self.name} is {now or '(unset)'} now on {self.address}")
        )


Condition = AnswersAs | Silent | ReplicaOf | OwnsNone | Alone | Knows | ConfigIs
