"""The transport seam: the one way rcdoctor talks to a server.

- `options`: how to reach every node (credentials, TLS, timeouts). Pure: no redis-py, so pure layers and
  `--help` can name it.
- `redis_py`: every redis-py client rcdoctor opens (one node, a raw pipelining connection, a cluster
  client), built from those options, each wrapped so that it raises rcdoctor's exceptions only.
- `exceptions`: what goes wrong talking to a node, as rcdoctor's own exceptions (pure); `errors`: the
  one translation of the client's exceptions into them (`translate`), re-exporting both.
- `failures`: how any failure reads, mapped once into error records and the exception tree (`classify`,
  `error_for`), without loading redis-py.
- `resp`, `multiplex`: the collector's own RESP connections (hiredis parses), every node at once from
  one thread under one selector; `ports`: TCP probes and DNS answers.

No module outside this package imports redis-py (tests/unit/test_architecture.py holds that), so a change
of client library, or a server quirk in how errors read, has one place to go.

This `__init__` imports nothing: importing `rcdoctor.transport.options` must not load redis-py.
"""

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = [
    "errors",
    "exceptions",
    "failures",
    "link",
    "multiplex",
    "options",
    "ports",
    "redis_py",
    "resp",
]
