"""Checks of the replication family (one module per check)."""
