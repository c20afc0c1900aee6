"""Unit tests of the ingestion pipeline nodes."""
