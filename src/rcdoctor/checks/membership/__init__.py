"""Checks of the membership family (one module per check)."""
