"""Server-side atomic slot migrations: the parsers on the reply shapes the servers' own docs and test
suites show, the version gate, and what diagnose says about one in progress.

No Valkey 9 or Redis 8.4 server is available to this project's tests (the lab runs Redis 6.2 and 7.0),
so the replies below are copied from the servers' sources, named at each one, and the diagnosis tests
graft them onto a snapshot recorded from a real Redis 7.0 cluster (its node ids as source and target).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rcdoctor.analyze import analyze
from rcdoctor.checks import default_registry
from rcdoctor.model.slot_migrations import (
    REDIS_MIGRATION_STATUS,
    VALKEY_GETSLOTMIGRATIONS,
    commands_for,
    fold,
    parse_redis,
    parse_valkey,
)
from rcdoctor.model.slots import SlotRange
from rcdoctor.model.snapshot import Snapshot
from rcdoctor.model.view import ClusterView
from rcdoctor.plan.slots import strays

DATA = Path(__file__).parent.parent / "data"
SOURCE = "ef362ae9b0b2cbfa1d613013070e4535a356bfe7"  # 127.0.0.201, slots 0-5460 in healthy-redis7.json
TARGET = "651ec028ebfd3bd2ec8bce3d45506a23bbf6df46"  # 127.0.0.202

# valkey-io/valkey-doc commands/cluster-getslotmigrations.md, "Response in RESP 2" (the collector speaks
# RESP2): one job, as src/cluster_migrateslots.c clusterCommandGetSlotMigrations writes it.
VALKEY_DOC_REPLY: list[Any] = [
    [
        "name", "5371b28997de6fd0bbe813ad8ebdfdf2faadb308",
        "operation", "EXPORT",
        "slot_ranges", "0-10",
        "target_node", "4b4f12fdfb58d5e30fef7b9ad3f1651dacbbaba9",
        "source_node", "93941e777e17fcbc92d4398cc957ffea888f472b",
        "create_time", 1754870400,
        "last_update_time", 1754870400,
        "last_ack_time", 1754870400,
        "state", "success",
        "message", "",
        "cow_size", 0,
    ]
]  # fmt: skip

# redis/redis src/cluster_asm.c replyTaskStatus: 12 fields in this order, the order
# tests/unit/cluster/atomic-slot-migration.tcl ("CLUSTER MIGRATION STATUS ALL lists all tasks") asserts.
REDIS_FIELDS = (
    "id", "slots", "source", "dest", "operation", "state", "last_error", "retries", "create_time",
    "start_time", "end_time", "write_pause_ms",
)  # fmt: skip


def _redis_task(**values: Any) -> list[Any]:
    task: dict[str, Any] = {
        "id": "24cf41718b20f7f05901743dffc40bc9b15db339",  # the id redis/docs cluster-migration.md shows
        "slots": "7000-7001",
        "source": SOURCE,
        "dest": TARGET,
        "operation": "import",
        "state": "completed",
        "last_error": "",
        "retries": 0,
        "create_time": 1754870400123,
        "start_time": 1754870400123,
        "end_time": 1754870400456,
        "write_pause_ms": 0,
        **values,
    }
    return [item for name in REDIS_FIELDS for item in (name, task[name])]


def _valkey_job(**values: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "name": "5371b28997de6fd0bbe813ad8ebdfdf2faadb308",
        "operation": "EXPORT",
        "slot_ranges": "0-10 20-30",
        "target_node": TARGET,
        "source_node": SOURCE,
        "create_time": 1754870400,
        "last_update_time": 1754870460,
        "last_ack_time": 1754870460,
        "state": "replicating",  # SLOT_EXPORT_STREAMING in slotMigrationJobStateToString
        "message": "",
        "cow_size": 0,
        **values,
    }
    return job


def _flat(job: dict[str, Any]) -> list[Any]:
    return [item for pair in job.items() for item in pair]


def test_the_valkey_docs_reply_parses_and_a_success_is_finished() -> None:
    parsed = parse_valkey(VALKEY_DOC_REPLY)
    assert parsed.ok
    (job,) = parsed.value
    assert (job.server, job.operation, job.slots, job.state) == ("valkey", "export", (SlotRange(0, 10),), "success")
    assert job.source == "93941e777e17fcbc92d4398cc957ffea888f472b"
    assert job.target == "4b4f12fdfb58d5e30fef7b9ad3f1651dacbbaba9"
    assert job.created == 1754870400 and not job.active


def test_valkey_states_other_than_the_three_terminal_ones_are_in_progress() -> None:
    # The doc: "The terminal states are success, failed and cancelled. Any other state denotes an active
    # slot migration." A replica of the target only tracks the job: no node fields (9 fields, not 11).
    tracking = {k: v for k, v in _valkey_job(operation="IMPORT", state="occurring-on-primary").items()}
    del tracking["target_node"], tracking["source_node"]
    reply = [_flat(_valkey_job()), tracking, _flat(_valkey_job(state="failed", message="Timed out"))]
    jobs = parse_valkey(reply).value  # RESP3 maps read the same as RESP2 arrays
    assert [j.active for j in jobs] == [True, True, False]
    assert jobs[0].slots == (SlotRange(0, 10), SlotRange(20, 30))
    assert jobs[1].source is None and jobs[1].target is None


def test_redis_tasks_read_in_valkey_words_and_a_failed_import_is_still_retried() -> None:
    reply = [
        _redis_task(operation="migrate", state="send-bulk-and-stream"),
        _redis_task(state="failed", last_error="Main channel - Connection is closed", retries=2),
        _redis_task(operation="migrate", state="failed"),
        _redis_task(state="canceled"),
        _redis_task(state="completed", slots="7000-7005 7010-7051"),
    ]
    tasks = parse_redis(reply).value
    assert [t.operation for t in tasks] == ["export", "import", "export", "import", "import"]
    # cluster_asm.c asmCatInfoString counts an import as active whatever its state, a migrate unless failed;
    # finished tasks (completed, canceled) are the archived ones.
    assert [t.active for t in tasks] == [True, True, False, False, False]
    assert tasks[1].message.startswith("Main channel") and tasks[1].retries == 2
    assert tasks[0].created == 1754870400.123  # milliseconds on Redis, seconds here
    assert tasks[4].slots == (SlotRange(7000, 7005), SlotRange(7010, 7051))


def test_replies_that_are_not_migrations_are_errors_not_crashes() -> None:
    assert parse_valkey(None).value == () and parse_valkey(None).ok
    assert not parse_valkey("ERR").ok
    bad = parse_redis([["id", "x", "operation", "import", "slots", "9-3"], ["odd"], 7])
    assert bad.value == () and len(bad.errors) == 3
    assert parse_redis([]).value == ()  # `CLUSTER MIGRATION STATUS ID ""` answers an empty array


def test_only_servers_that_have_the_commands_are_asked() -> None:
    assert commands_for({"redis_version": "7.0.15"}) == ()
    assert commands_for({"redis_version": "8.2.3"}) == ()
    assert commands_for({"redis_version": "8.4.0"}) == (
        (REDIS_MIGRATION_STATUS, ("CLUSTER", "MIGRATION", "STATUS", "ALL")),
    )
    # Valkey reports redis_version:7.2.4 whatever its own version: valkey_version decides.
    assert commands_for({"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.8"}) == ()
    assert commands_for({"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "9.0.0"}) == (
        (VALKEY_GETSLOTMIGRATIONS, ("CLUSTER", "GETSLOTMIGRATIONS")),
    )


def test_both_sides_fold_into_one_move() -> None:
    export = parse_valkey([_flat(_valkey_job())]).value[0]
    imported = parse_valkey([_flat(_valkey_job(operation="IMPORT", state="receiving-snapshot"))]).value[0]
    (move,) = fold([(SOURCE, export), (TARGET, imported)])
    assert (move.source, move.target, move.slot_count, move.active) == (SOURCE, TARGET, 22, True)
    assert [(r.node_id, r.state) for r in move.reports] == [(SOURCE, "replicating"), (TARGET, "receiving-snapshot")]


def _with_replies(snapshot: Snapshot, replies: dict[str, dict[str, Any]]) -> Snapshot:
    """The recorded snapshot with some nodes' replies added (by address), as the collector stores them."""
    nodes = tuple(
        replace(n, replies=MappingProxyType({**n.replies, **replies[n.address]})) if n.address in replies else n
        for n in snapshot.nodes
    )
    return replace(snapshot, nodes=nodes)


def _valkey_move(source_state: str, target_state: str, message: str = "") -> Snapshot:
    snapshot = Snapshot.load(DATA / "healthy-redis7.json")
    return _with_replies(
        snapshot,
        {
            "127.0.0.201:6379": {VALKEY_GETSLOTMIGRATIONS: [_flat(_valkey_job(state=source_state, message=message))]},
            "127.0.0.202:6379": {
                VALKEY_GETSLOTMIGRATIONS: [_flat(_valkey_job(operation="IMPORT", state=target_state))]
            },
        },
    )


def test_an_atomic_migration_in_progress_is_info_with_its_own_message() -> None:
    report = analyze(_valkey_move("replicating", "receiving-snapshot"), default_registry())
    (moving,) = [f for f in report.findings if f.code == "S004"]
    assert moving.severity == "info" and report.exit_code == 0
    assert moving.title == "slots 0-10,20-30 (22 slots) are moving by the server's atomic slot migration"
    assert any("replicating (export) on 127.0.0.201:6379" in e for e in moving.evidence)
    assert any("receiving-snapshot (import) on 127.0.0.202:6379" in e for e in moving.evidence)
    assert "CLUSTER CANCELSLOTMIGRATIONS" in moving.fix and "--resume" not in moving.fix


def test_an_atomic_migration_the_server_retries_is_a_warning_never_critical() -> None:
    snapshot = _valkey_move("waiting-to-pause", "waiting-for-paused", message="Timed out before streaming")
    report = analyze(snapshot, default_registry())
    (moving,) = [f for f in report.findings if f.code == "S004"]
    assert moving.severity == "warning"
    assert any("Timed out before streaming" in e for e in moving.evidence)


def test_a_finished_atomic_migration_is_no_finding() -> None:
    report = analyze(_valkey_move("success", "success"), default_registry())
    assert not [f for f in report.findings if f.code == "S004"]


def test_a_redis_task_gives_the_redis_cancel_command() -> None:
    snapshot = _with_replies(
        Snapshot.load(DATA / "healthy-redis7.json"),
        {"127.0.0.202:6379": {REDIS_MIGRATION_STATUS: [_redis_task(state="accumulate-buffer")]}},
    )
    (moving,) = [f for f in analyze(snapshot, default_registry()).findings if f.code == "S004"]
    assert moving.severity == "info"
    assert "CLUSTER MIGRATION CANCEL ID 24cf41718b20f7f05901743dffc40bc9b15db339" in moving.fix


def test_keys_of_slots_being_moved_atomically_are_not_strays() -> None:
    # The target holds keys of slot 5 (a slot the source owns) while the server copies them: expected,
    # neither an S003 finding nor keys heal would move back.
    snapshot = _valkey_move("replicating", "receiving-snapshot")
    target = next(n for n in snapshot.nodes if n.address == "127.0.0.202:6379")
    counted = {"CLUSTER COUNTKEYSINSLOT 5": 3}
    snapshot = _with_replies(snapshot, {target.address: {**target.replies, **counted}})
    assert not [f for f in analyze(snapshot, default_registry()).findings if f.code == "S003"]
    assert strays(ClusterView(snapshot)) == []
    # The same keys without the migration are strays: the test above is not vacuous.
    plain = _with_replies(Snapshot.load(DATA / "healthy-redis7.json"), {target.address: counted})
    assert [f.code for f in analyze(plain, default_registry()).findings if f.code == "S003"] == ["S003"]
    assert [s.slot for s in strays(ClusterView(plain))] == [5]
