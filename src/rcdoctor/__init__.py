"""rcdoctor: a doctor for Redis Cluster and Valkey cluster."""

__version__ = "0.1.0"

__all__ = ["__version__"]
