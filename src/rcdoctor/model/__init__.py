"""Plain data and pure parsers: no I/O happens in this package."""
