"""The chaos rehearsal: seeded rounds of faults on a real lab, each diagnosed, healed and verified."""
