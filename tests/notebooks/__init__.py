"""Notebook tests: committed clean, and each runs top to bottom against a trained project."""
