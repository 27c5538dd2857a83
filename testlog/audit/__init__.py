"""Audit: verify the log branch, seal signed release bundles, rotate and retain history."""
