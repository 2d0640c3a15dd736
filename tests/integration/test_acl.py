"""An ACL user with only the reading rules of docs/acl.md, without CLIENT SETNAME or CONFIG: rcdoctor still
connects, diagnoses, and lists what it could not run (every server of the matrix)."""

from __future__ import annotations

import json

import pytest
from tests.conftest import LabFactory, rcdoctor

from rcdoctor.lab import RedisBinary

pytestmark = pytest.mark.integration

READ_ONLY = (
    "+ping +info +dbsize +scan +cluster|myid +cluster|nodes +cluster|info +cluster|slots +cluster|countkeysinslot"
)


def test_a_user_without_client_setname_or_config_still_diagnoses(
    make_lab: LabFactory, redis_binary: RedisBinary
) -> None:
    lab = make_lab(redis_binary, primaries=3, replicas=0)
    lab.wait_cluster_ok()
    extra = "" if redis_binary.version_tuple[0] < 7 else " +cluster|shards +cluster|links"
    for node in lab.nodes:
        with lab.client(node) as c:
            c.execute_command(
                "ACL", "SETUSER", "doctor", "on", ">doctor-pw", "resetkeys", "-@all", *(READ_ONLY + extra).split()
            )
    env = {"REDISCLI_AUTH": "doctor-pw"}
    done = rcdoctor("diagnose", *lab.addresses, "--user", "doctor", env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "Not seen" in done.stdout and "refused" in done.stdout, done.stdout
    # every node read, and what it refused is in the snapshot as data (reply_errors), CONFIG GET included
    collected = rcdoctor("collect", *lab.addresses, "--user", "doctor", env=env)
    assert collected.returncode == 0, collected.stderr
    nodes = json.loads(collected.stdout)["nodes"]
    assert len(nodes) == 3 and all(n["error"] is None and "CLUSTER NODES" in n["replies"] for n in nodes)
    assert all(any(k.startswith("CONFIG GET") for k in n["reply_errors"]) for n in nodes)
    status = rcdoctor("status", *lab.addresses, "--user", "doctor", "--format", "json", env=env)
    assert status.returncode in (0, 1), status.stderr
    assert "doctor-pw" not in done.stdout + done.stderr + status.stdout + status.stderr + collected.stdout
    # the report of a user given in a URL: the password is nowhere in the page
    url = f"redis://doctor:doctor-pw@{lab.addresses[0]}"
    page = rcdoctor("report", url, *lab.addresses[1:], "--format", "markdown")
    assert page.returncode in (0, 1) and "Redis Cluster incident report" in page.stdout, page.stderr
    assert "doctor-pw" not in page.stdout + page.stderr
