"""Checks of the config family (one module per check)."""
