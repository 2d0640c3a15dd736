"""Command-line entry points. No logic of their own: they parse, call the library, print."""
