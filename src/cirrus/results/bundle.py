"""`model_bundle.json`: what batch scoring and the API load as one versioned unit.

The model text and the feature spec stay files of their own (LightGBM's native text, readable
JSON); the bundle names them by content hash and carries everything else a prediction depends
on: the decision threshold in effect, the contract the model was trained on (and its hash), and
the held-out metrics. A model file or spec that does not match the bundle's hashes is not the
bundle's: nothing scores with a mixed set.
"""

from __future__ import annotations

from typing import Any

from cirrus.results.base import Result


class DecisionThreshold(Result):
    """A binary task's threshold: a row is positive when its score is at or above `value`."""

    value: float
    rule: str | None  # the rule that chose it (best_f1, youden); None: declared as a number


class HeldOut(Result):
    """The held-out metrics of the bundle's model, and on how many rows."""

    n_test_rows: int
    metrics: dict[str, float | None]


class ModelBundle(Result):
    """The identity of a servable model and everything its predictions depend on."""

    version: str  # a hash of everything below: equal bundles, equal version
    model_version: str  # content hash of model.txt (cirrus.scoring.content_version)
    feature_spec_hash: str  # cirrus.scoring.spec_hash of feature_spec.json
    task: str
    decision_threshold: DecisionThreshold | None  # binary tasks only
    contract_hash: str
    contract: dict[str, Any]  # the contract the model was trained on (the request schema's source)
    held_out: HeldOut

    def threshold(self) -> float | None:
        """The decision threshold in effect (None: not a binary task)."""
        return None if self.decision_threshold is None else self.decision_threshold.value
