"""Two nodes' copies of the same slots compared key by key, and the differences kept in a file."""
