"""`training_metrics.json`: the trained model's scores, row counts and resolved settings."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, model_validator

from cirrus.results.base import Result

# LightGBM's metric at the best iteration on the fitting (`train_`) and early-stopping (`valid_`)
# rows: one key per metric of the task (`train_auc`, `valid_multi_logloss`, ...).
SCORE_KEY = re.compile(r"^(train|valid)_[a-z0-9_]+$")


class TrainingMetrics(Result):
    """What training measured and resolved; `thresholds` for a binary task only."""

    # The per-metric score keys depend on the task: extra keys are allowed only in their form.
    model_config = ConfigDict(extra="allow", frozen=True)

    task: Literal["binary", "multiclass", "regression"]
    best_iteration: int
    n_training_rows: int
    n_features: int
    n_fitting_rows: int
    n_validation_rows: int
    validation_split: str
    resolved_params: dict[str, Any]
    thresholds: dict[str, float] | None = None  # binary: the threshold each rule picks, or null
    cross_validation: dict[str, Any] | None = None  # when training.cross_validation is on

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """Refuse extra keys that are not a split's metric score (a typo or a rename), naming
        them and the declared keys they left missing."""
        if not isinstance(data, dict):
            return data
        unexpected = [
            key
            for key, value in data.items()
            if key not in cls.model_fields
            and not (SCORE_KEY.match(key) and isinstance(value, int | float))
        ]
        if unexpected:
            required = [name for name, info in cls.model_fields.items() if info.is_required()]
            problems = [f"key '{key}' is missing" for key in required if key not in data]
            problems += [
                f"key '{key}' is not expected (only train_<metric> and valid_<metric> scores sit "
                "beside the declared keys)"
                for key in unexpected
            ]
            raise ValueError("; ".join(problems))
        return data

    @model_validator(mode="after")
    def _binary_thresholds(self) -> TrainingMetrics:
        """A binary task records the threshold each rule picks (null: the validation rows held
        one class, so no rule could pick one)."""
        if self.task == "binary" and "thresholds" not in self.model_fields_set:
            raise ValueError("key 'thresholds' is missing (a binary task records them)")
        return self

    def to_json(self) -> dict[str, Any]:
        """The document as training writes it: the scores after the row and feature counts."""
        document = super().to_json()
        scores = {key: document.pop(key) for key in list(self.model_extra or {})}
        head = ("task", "best_iteration", "n_training_rows", "n_features")
        return {
            **{key: document.pop(key) for key in head},
            **scores,
            **document,
        }

    def scores(self, split: Literal["train", "valid"]) -> dict[str, float]:
        """The split's metric scores by metric name (`auc`, `rmse`, ...)."""
        prefix = f"{split}_"
        return {
            key.removeprefix(prefix): float(value)
            for key, value in (self.model_extra or {}).items()
            if key.startswith(prefix)
        }
