"""`rcdoctor probe liveness|readiness|startup [ADDR]`: exec probes for a Redis pod.

Dispatched by the console script before Click is imported (see cli/entry.py): a probe runs every few
seconds on every pod, so it imports only the standard library, a small RESP client and the verdicts.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import NoReturn

from rcdoctor.credentials import check_tls_files, password_from_env, read_password_file
from rcdoctor.errors import UsageError
from rcdoctor.probe.resp import RespError, RespProtocolError, RespTLSError, TLSOptions, call, connect
from rcdoctor.probe.verdict import CANNOT, FAIL, KINDS, Verdict, judge

EPILOG = """\
exit codes: 0 pass; 2 fail (not alive / not ready / still loading); 3 cannot judge (bad arguments,
credentials refused, TLS mismatch, not a cluster node). Kubernetes treats any non-zero code as a failure.

liveness passes whenever the process answers Redis at all, even with LOADING, BUSY or a failing
cluster: restarting pods does not repair a cluster, it makes the incident worse.
readiness: PONG, not loading, cluster_state:ok, and for a replica a live and fully synced link.
startup: the data set is loaded (PING answers PONG, not LOADING).
password: REDISCLI_AUTH, --password-file, or a redis://user:pass@host URL (visible in ps: avoid).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"rcdoctor probe: {message}\n")
        raise SystemExit(CANNOT)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="rcdoctor probe",
        description="Kubernetes exec probe for one Redis Cluster node.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("address", nargs="?", default="127.0.0.1:6379", help="host:port or URL (default 127.0.0.1:6379)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds for connect and replies (default 2)")
    p.add_argument("--user", default=None, help="ACL user name")
    p.add_argument("--password-file", default=None, help="read the password from this file (first line)")
    p.add_argument("--tls", action="store_true", help="use TLS (implied by rediss://)")
    p.add_argument("--cacert", default=None)
    p.add_argument("--cert", default=None)
    p.add_argument("--key", default=None)
    p.add_argument("--insecure", action="store_true", help="TLS without verifying the certificate")
    p.add_argument("--quiet", action="store_true", help="print nothing when the probe passes")
    return p


def _text(reply: object) -> str | None:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else None


def probe(args: argparse.Namespace) -> Verdict:
    from rcdoctor.model.address import parse_seed

    check_tls_files(cacert=args.cacert, cert=args.cert, key=args.key)
    seed = parse_seed(args.address)
    secret = read_password_file(args.password_file) if args.password_file else seed.password or password_from_env()
    password = secret.reveal() if secret is not None else None
    user = args.user or seed.username
    tls = TLSOptions(args.cacert, args.cert, args.key, verify=not args.insecure) if (args.tls or seed.tls) else None
    commands: list[tuple[str, ...]] = []
    if password is not None:
        commands.append(("AUTH", user, password) if user else ("AUTH", password))
    commands.append(("PING",))
    if args.kind == "readiness":
        # One section per INFO call: Redis 6.2 takes only one.
        commands += [("INFO", "replication"), ("INFO", "persistence"), ("CLUSTER", "INFO")]
    host, port = seed.endpoint.host, seed.endpoint.port
    try:
        sock = connect(host, port, args.timeout, tls)
    except RespTLSError as exc:
        return Verdict(CANNOT, f"TLS handshake with {host}:{port} failed ({exc}): TLS on one side only?")
    except TimeoutError:
        hint = " (a plain port? then drop --tls)" if tls is not None else ""
        return Verdict(FAIL, f"no answer from {host}:{port} within {args.timeout:g}s{hint}")
    except OSError as exc:
        return Verdict(FAIL, f"cannot connect to {host}:{port}: {exc.strerror or exc}")
    try:
        replies = call(sock, commands)
    except TimeoutError:
        return Verdict(FAIL, f"{host}:{port} accepted the connection but did not answer within {args.timeout:g}s")
    except (RespProtocolError, OSError) as exc:
        if tls is None:
            # A plain client on a TLS port reads TLS bytes or a closed connection: the probe is set up
            # wrong, it cannot judge the node (3), it must not call it failing (2).
            return Verdict(CANNOT, f"{host}:{port} did not answer as Redis: {exc} (a TLS port? try --tls)")
        return Verdict(FAIL, f"{host}:{port} did not answer as Redis: {exc}")
    finally:
        sock.close()
    refused = None
    if password is not None:
        auth, replies = replies[0], replies[1:]
        # AUTH's own refusal (WRONGPASS) is the cause; PING's NOAUTH after it only a consequence.
        if isinstance(auth, RespError) and auth.message.split(" ", 1)[0] in ("WRONGPASS", "NOPERM"):
            refused = auth.message
    ping = replies[0]
    error = refused or (ping.message if isinstance(ping, RespError) else None)
    if args.kind != "readiness":
        return judge(args.kind, _text(ping) if refused is None else None, error, None, None)
    info = "\n".join(t for r in replies[1:3] if (t := _text(r)))
    cluster = _text(replies[3])
    return judge("readiness", _text(ping) if refused is None else None, error, info, cluster)


def main(argv: list[str]) -> int:
    # intermixed: options may sit between the kind and the address (`readiness --password-file F ADDR`)
    args = parser().parse_intermixed_args(argv)
    started = time.perf_counter()
    try:
        verdict = probe(args)
    except UsageError as exc:
        sys.stderr.write(f"rcdoctor probe: {exc}\n")
        return CANNOT
    elapsed = (time.perf_counter() - started) * 1000
    if not (verdict.passed and args.quiet):
        stream = sys.stdout if verdict.passed else sys.stderr
        where = args.address.rpartition("@")[2]  # never echo a password given in a URL
        outcome = "ok" if verdict.passed else "FAILED"
        stream.write(f"{args.kind} {outcome}: {verdict.text} [{where}, {elapsed:.1f} ms]\n")
    return verdict.code
