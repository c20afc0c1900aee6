"""Data and model versioning with DVC: the generated dvc.yaml and model promotion."""
