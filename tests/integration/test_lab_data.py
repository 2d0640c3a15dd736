"""The lab's data check reads a key where a client would: on its slot's owner, or through ASK on the target of
a slot half-way through a migration (a rebalance killed mid-batch leaves exactly that)."""

from __future__ import annotations

import pytest
from tests.conftest import LabFactory

from rcdoctor.lab import RedisBinary
from rcdoctor.lab.data import DataSet, fill, missing_or_wrong, slot_of
from rcdoctor.lab.faults import FaultOp, apply

pytestmark = pytest.mark.integration


def test_keys_moved_to_an_importing_target_are_read_through_ask(
    redis_binary: RedisBinary, make_lab: LabFactory
) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    data = DataSet(2_000)
    fill(lab.nodes[0].endpoint, lab.options, data)
    slot = slot_of(data.key(0))
    in_slot = [i for i in range(data.count) if slot_of(data.key(i)) == slot]
    result = apply(lab, FaultOp("half-migrate", params={"slot": slot, "keys": 1}))
    source, target = lab.node(result.details["source"]), lab.node(result.details["target"])
    with lab.client(source, timeout=10) as s:
        s.execute_command("MIGRATE", target.ip, target.port, "", 0, 5000, "KEYS", *(data.key(i) for i in in_slot))
        assert s.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 1  # only the fault's own unmoved key
    assert missing_or_wrong(lab.nodes[0].endpoint, lab.options, data) == []

    # The check can fail: a moved key lost on the target is reported, not taken as present.
    with lab.client(target) as t:
        t.execute_command("ASKING")
        t.execute_command("DEL", data.key(in_slot[0]))
    assert missing_or_wrong(lab.nodes[0].endpoint, lab.options, data) == [in_slot[0]]
