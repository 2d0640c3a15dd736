"""Kubernetes probe verdicts from a node's replies (pure).

- liveness: the process answers Redis at all. LOADING, BUSY, CLUSTERDOWN or a refused AUTH are all
  answers: the process is alive, and restarting it would not help (restarting every pod during a
  cluster incident makes the incident worse, and kills a node in the middle of loading its data).
- startup: the node has finished loading its data set (PING answers PONG, not LOADING).
- readiness: this node is usable: PONG, not loading, `cluster_state:ok`, and a replica has a live,
  fully synced link to its primary (so a rolling restart waits for it before taking the next pod).
"""

from __future__ import annotations

from dataclasses import dataclass

from rcdoctor.model.info import parse_kv

KINDS = ("liveness", "readiness", "startup")
PASS, FAIL, CANNOT = 0, 2, 3  # exit codes; Kubernetes treats any non-zero as a failed probe


@dataclass(frozen=True)
class Verdict:
    code: int
    text: str

    @property
    def passed(self) -> bool:
        return self.code == PASS


def judge(kind: str, ping: str | None, error: str | None, info: str | None, cluster_info: str | None) -> Verdict:
    """`ping` is PING's status reply, `error` its error reply (e.g. "LOADING …"), `info` the text of
    INFO replication+persistence and `cluster_info` of CLUSTER INFO (None when not asked or refused)."""
    code = (error or "").split(" ", 1)[0]
    if kind == "liveness":
        if ping == "PONG":
            return Verdict(PASS, "alive: PONG")
        if code in ("NOAUTH", "WRONGPASS", "NOPERM"):
            return Verdict(PASS, f"alive, but it refused the probe's credentials ({code}): fix them for readiness")
        return Verdict(PASS, f"alive: answered {code or error!r}")
    if code == "LOADING":
        return Verdict(FAIL, "loading its data set")
    if code in ("NOAUTH", "WRONGPASS", "NOPERM"):
        return Verdict(
            CANNOT, f"the node refused the probe's credentials ({error}): set REDISCLI_AUTH or --password-file"
        )
    if ping != "PONG":
        return Verdict(FAIL, f"PING answered {error or ping!r}")
    if kind == "startup":
        return Verdict(PASS, "started: data set loaded, PONG")
    values = parse_kv(info or "").value
    if values.get("loading") == "1":
        return Verdict(FAIL, "loading its data set")
    if cluster_info is None:
        return Verdict(CANNOT, "CLUSTER INFO was refused: not a cluster node (cluster-enabled no)?")
    state = parse_kv(cluster_info).value.get("cluster_state")
    if state != "ok":
        return Verdict(FAIL, f"cluster_state:{state} (this node refuses queries; rcdoctor diagnose explains why)")
    if values.get("role") == "slave":
        link = values.get("master_link_status")
        if link != "up":
            where = f"{values.get('master_host', '?')}:{values.get('master_port', '?')}"
            return Verdict(FAIL, f"replica's link to its primary {where} is {link or 'unknown'}")
        if values.get("master_sync_in_progress", "0") != "0":
            return Verdict(FAIL, "replica is still in its initial sync with its primary")
        return Verdict(PASS, "ready: cluster_state:ok, replica in sync")
    return Verdict(PASS, f"ready: cluster_state:ok, {values.get('role', 'master')}")
