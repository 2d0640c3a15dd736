"""heal: diagnose's findings turned into a dry-run-first plan of phases, applied step by step."""
