"""Unit tests of the evaluation pipeline nodes."""
