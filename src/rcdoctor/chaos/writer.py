"""The chaos rehearsal's client: one per shard, writing its own keys throughout the round.

A write counts as acknowledged only once `WAIT 1` says a replica has it. Redis replicates
asynchronously: a write only the primary had when it was killed is lost by any failover, whatever
rcdoctor does (the split-brain rehearsal measures that window). The chaos rehearsal measures what the
doctor loses, so a write no replica confirmed is `unknown` (it may or may not survive), never counted lost.
"""

from __future__ import annotations

from rcdoctor.probe.resp import RespProtocolError, call
from rcdoctor.rehearsal.client import Client

WAIT_MS = 500


class AckedWriter(Client):
    def _confirm(self) -> str | None:
        if self._sock is None:
            return "connection gone"
        try:
            self._sock.settimeout(self.timeout + WAIT_MS / 1000)
            (waited,) = call(self._sock, [("WAIT", "1", str(WAIT_MS))])
        except (OSError, RespProtocolError):
            self._close()
            return "no answer to WAIT"
        self._sock.settimeout(self.timeout)  # WAIT may block its full time; a SET gets the usual timeout
        return None if isinstance(waited, int) and waited >= 1 else "no replica confirmed it"
