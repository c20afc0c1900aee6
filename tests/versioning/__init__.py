"""Versioning tests."""
