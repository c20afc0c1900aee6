"""Batch scoring of new, unlabelled rows with the current model."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
