"""Checks of the placement family (one module per check)."""
