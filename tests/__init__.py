"""Cirrus tests."""
