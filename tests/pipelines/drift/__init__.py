"""Unit tests of the drift pipeline nodes."""
