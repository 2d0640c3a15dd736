"""The lab: real local redis-server clusters (one loopback IP per node) and faults to inject."""

from rcdoctor.lab.binary import RedisBinary, find_redis_server
from rcdoctor.lab.cluster import Lab, LabSpec, temporary_lab

# What other packages may import (tests/unit/test_architecture.py holds them to it); the rest is internal.
__all__ = [
    "Lab",
    "LabSpec",
    "RedisBinary",
    "cluster",
    "data",
    "demo",
    "faults",
    "find_redis_server",
    "logs",
    "network",
    "temporary_lab",
]
