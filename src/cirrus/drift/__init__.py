"""Drift of a current batch from the held-out reference rows, shared by the drift and monitoring
pipelines: per-column verdicts from Evidently's stat tests on all rows, its HTML report on a
seeded sample (`report.run_drift_report`), and the summary with a retrain recommendation."""
