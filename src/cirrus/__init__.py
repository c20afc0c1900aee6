"""Cirrus."""
