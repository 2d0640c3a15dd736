"""The collector: seeds expanded, every node sampled at once (a conversation per node), one Snapshot."""

from rcdoctor.collect.collector import collect
from rcdoctor.transport.options import ConnectOptions

__all__ = ["ConnectOptions", "collect"]
