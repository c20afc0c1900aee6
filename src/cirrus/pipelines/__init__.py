"""Kedro pipelines of the Cirrus lifecycle, one package each."""
