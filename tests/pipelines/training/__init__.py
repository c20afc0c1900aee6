"""Unit tests of the training pipeline nodes."""
