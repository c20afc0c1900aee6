"""Seeded generator of the bundled demo dataset."""
