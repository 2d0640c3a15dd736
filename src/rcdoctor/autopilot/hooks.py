"""The operator's hook: a shell command run on detection and before and after a repair.

What happened is in its environment (documented in docs/autopilot.md): RCDOCTOR_EVENT (detected,
pre-repair, post-repair), RCDOCTOR_CODES, RCDOCTOR_FINDINGS, RCDOCTOR_NODES, RCDOCTOR_PLAN, RCDOCTOR_RESULT,
RCDOCTOR_REASON, RCDOCTOR_DRY_RUN, RCDOCTOR_LEASE, RCDOCTOR_JOURNAL. A non-zero exit of the pre-repair hook
vetoes the repair. The password variables are taken out of its environment: a hook never sees a secret.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

HOOK_TIMEOUT_S = 30.0
# Never handed to a hook (the password rcdoctor was given, redis-cli's variable)
SECRET_VARIABLES = ("REDISCLI_AUTH", "RCDOCTOR_PASSWORD")


@dataclass(frozen=True)
class HookResult:
    code: int | None  # None: it did not finish in time (killed) or could not start
    detail: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def run_hook(command: str, event: str, values: Mapping[str, str], timeout: float = HOOK_TIMEOUT_S) -> HookResult:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    env.update({"RCDOCTOR_EVENT": event, **values})
    try:
        # A session of its own: on a timeout its whole process group is ended (a shell's children too).
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return HookResult(None, f"cannot run the hook: {exc.strerror or exc}")
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return HookResult(None, f"the hook did not finish within {timeout:g}s (killed)")
    last = [line for line in out.splitlines() if line.strip()][-1:] or [""]
    return HookResult(proc.returncode, last[0][:200])
