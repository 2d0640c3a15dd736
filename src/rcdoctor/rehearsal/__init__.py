"""Split-brain rehearsal: clients on both sides of a real partition, a recorded history, a checker."""
