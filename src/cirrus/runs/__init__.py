"""Runs: all-or-nothing outputs (staged, then published together) and one writer at a time."""
