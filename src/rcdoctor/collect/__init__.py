"""I/O towards Redis nodes: connections (auth, TLS, timeouts) and the parallel collector."""

from rcdoctor.collect.collector import collect
from rcdoctor.transport.options import ConnectOptions

__all__ = ["ConnectOptions", "collect"]
