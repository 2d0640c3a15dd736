"""The lab: real local redis-server clusters (one loopback IP per node) and faults to inject."""

from rcdoctor.lab.binary import RedisBinary, find_redis_server
from rcdoctor.lab.cluster import Lab, LabSpec, temporary_lab

__all__ = ["Lab", "LabSpec", "RedisBinary", "find_redis_server", "temporary_lab"]
