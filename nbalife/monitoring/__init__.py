"""Monitoring statistics: pure functions over arrays, no store, no models."""
