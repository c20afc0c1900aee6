"""Typed results: every JSON artefact another part reads is a strict pydantic model.

On disk each stays readable JSON, the same keys as before; at the catalog boundary
(`ResultDataset`) it is validated into its model, so a file with a missing or renamed key fails at
load (and a node that builds one wrongly fails at save), naming the file and the key. Code reads
the fields by attribute.
"""

from cirrus.results.base import Result, ResultFileError, parse_result
from cirrus.results.bundle import DecisionThreshold, HeldOut, ModelBundle
from cirrus.results.dataset import ResultDataset
from cirrus.results.drift import DriftSummary
from cirrus.results.evaluation import EvaluationMetrics, QualityGate
from cirrus.results.monitoring import MonitoringSummary
from cirrus.results.training import TrainingMetrics

__all__ = [
    "DecisionThreshold",
    "DriftSummary",
    "EvaluationMetrics",
    "HeldOut",
    "ModelBundle",
    "MonitoringSummary",
    "QualityGate",
    "Result",
    "ResultDataset",
    "ResultFileError",
    "TrainingMetrics",
    "parse_result",
]
