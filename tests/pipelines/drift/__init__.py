"""Unit tests of the drift pipeline's own nodes."""
