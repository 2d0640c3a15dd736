"""Checks of the epochs family (one module per check)."""
