"""Checks of the slots family (one module per check)."""
