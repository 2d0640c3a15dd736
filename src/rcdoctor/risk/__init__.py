"""Failure-domain risk analysis (pure): what losing each domain (or pair of domains) does to a cluster."""
