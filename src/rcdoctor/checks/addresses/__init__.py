"""Checks of the addresses family (one module per check)."""
