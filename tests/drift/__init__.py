"""Unit tests of the drift report shared by the drift and monitoring pipelines."""
