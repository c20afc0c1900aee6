"""Monitoring: drift and live performance on what the model really scored."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
