"""Unit tests of the features pipeline nodes."""
