"""verify: real reads and writes on every primary, key counts and content digests against a baseline."""
