"""The collector: seeds expanded, every node sampled at once (a conversation per node), one Snapshot."""

from rcdoctor.collect.collector import collect
from rcdoctor.transport.options import ConnectOptions

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = ["ConnectOptions", "collect", "replication", "sources"]
