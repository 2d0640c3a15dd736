"""The transport seam: the one way rcdoctor talks to a server.

- `options`: how to reach every node (credentials, TLS, timeouts). Pure: no redis-py, so pure layers and
  `--help` can name it.
- `redis_py`: every redis-py client rcdoctor opens (one node, a raw pipelining connection, a cluster
  client), built from those options.
- `errors`: the foreign exceptions under rcdoctor's names, and their mapping into the error records and
  the exception tree (`errors.classify`, `errors.error_for`).

No module outside this package imports redis-py (tests/unit/test_architecture.py holds that), so a change
of client library, or a server quirk in how errors read, has one place to go.

This `__init__` imports nothing: importing `rcdoctor.transport.options` must not load redis-py.
"""
