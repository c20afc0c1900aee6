"""Evaluation nodes: held-out predictions, metrics against a trivial baseline, plots, gate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cirrus.contract import DatasetContract
from cirrus.dask.dispatch import on_dask
from cirrus.errors import CirrusError
from cirrus.feature_spec import FeatureSpec
from cirrus.metrics import (
    PRIMARY_METRIC,
    bootstrap_interval,
    improves,
    metric_formulas,
    task_metrics,
)
from cirrus.modeling import PREDICTION, decision_threshold
from cirrus.parameters import EVALUATION_FILE, FEATURES_FILE, EvaluationParams
from cirrus.results import EvaluationMetrics, HeldOut, ModelBundle, QualityGate, TrainingMetrics
from cirrus.scoring import build_bundle

# plotly and scikit-learn load in the nodes that use them: every `kedro run` registers every
# pipeline, and most stages draw nothing. Kedro reads each node's type hints when it registers
# the pipelines (to validate `params:` inputs), so `Figure` must resolve without plotly: it is
# plotly's figure for type checkers and `Any` at run time.
if TYPE_CHECKING:
    from plotly.graph_objects import Figure
else:
    Figure = Any

logger = logging.getLogger(__name__)
# Points kept per curve table, so the files `dvc plots` draws stay small enough for git.
CURVE_POINTS = 200


class QualityGateFailed(CirrusError, RuntimeError):
    """The evaluated model does not meet the declared quality gate."""

    hint = (
        "Improve the data or the training parameters, or change the gate in "
        "conf/base/parameters_evaluation.yml if it asks too much."
    )


def _class_scores(predictions: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Class-probability matrix of a multiclass prediction frame."""
    return predictions[[f"score_{name}" for name in spec.class_names()]].to_numpy()


def _baseline_metrics(
    y: np.ndarray, train_prior: np.ndarray | float, task: str, threshold: float
) -> dict[str, float]:
    """Metrics of the trivial model: the training prior (classification) or mean (regression)."""
    n = len(y)
    if task == "multiclass":
        return task_metrics(task, y, np.tile(train_prior, (n, 1)))
    return task_metrics(task, y, np.full(n, float(train_prior)), threshold)


def _predicted(predictions: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """What the task's metrics read: positive-class scores, class probabilities or values."""
    if spec.task == "binary":
        return predictions["score"].to_numpy()
    if spec.task == "multiclass":
        return _class_scores(predictions, spec)
    return predictions[PREDICTION].to_numpy()


def missed_bounds(model: dict[str, float], task: str, settings: EvaluationParams) -> list[str]:
    """The gated metrics whose estimate lies outside a bound of the task's quality gate."""
    return [
        name
        for name, rule in settings.quality_gate.get(task, {}).items()
        if (rule.min is not None and model[name] < rule.min)
        or (rule.max is not None and model[name] > rule.max)
    ]


def metric_intervals(
    y: np.ndarray,
    predicted: np.ndarray,
    model: dict[str, float],
    task: str,
    threshold: float,
    settings: EvaluationParams,
) -> dict[str, Any] | None:
    """Bootstrap intervals of the gated metrics that miss a bound, on few held-out rows.

    None when no bound is missed or the rows exceed `gate_interval.max_rows`: a metric within
    its bounds needs no interval to pass, and one resample costs scikit-learn milliseconds.
    """
    declared = settings.gate_interval
    missed = missed_bounds(model, task, settings)
    if not missed or len(y) > declared.max_rows:
        return None
    formulas = metric_formulas(task, threshold)
    return {
        "confidence": declared.confidence,
        "resamples": declared.resamples,
        "metrics": {
            name: bootstrap_interval(
                formulas[name], y, predicted, declared.confidence, declared.resamples, declared.seed
            )
            for name in missed
        },
    }


def training_prior(train_features: pd.DataFrame, spec: FeatureSpec) -> np.ndarray | float:
    """Positive rate, class shares or mean of the training target."""
    y = train_features[spec.target].to_numpy(dtype="float64")
    if spec.task == "binary":
        return float(y.mean())
    if spec.task == "multiclass":
        counts = np.bincount(y.astype(int), minlength=len(spec.class_names()))
        return counts / counts.sum()
    return float(y.mean())


@on_dask("cirrus.pipelines.evaluation.on_dask:compute_metrics")
def compute_metrics(
    predictions: pd.DataFrame,
    train_features: pd.DataFrame,
    spec: FeatureSpec,
    settings: EvaluationParams,
    training_metrics: TrainingMetrics | None = None,
    holdout_report: dict[str, Any] | None = None,
    current_predictions: pd.DataFrame | None = None,
) -> EvaluationMetrics:
    """Held-out metrics by task, next to the trivial baseline's and the lift over it.

    A binary task is thresholded as declared, or with `threshold: auto` at the threshold the
    training picked on its validation rows (`threshold_rule` names which one). Beside them: the
    hold-out used (`holdout`), the model on the current rows with an outcome (`current_batch`,
    never gated) and warnings (a fixed threshold on an imbalanced target).
    """
    y = predictions["label"].to_numpy()
    task = spec.task
    threshold, rule = 0.5, None
    if task == "binary":
        threshold, rule = decision_threshold(settings, training_metrics)
    if task == "multiclass":
        y = y.astype(int)
    predicted = _predicted(predictions, spec)
    model = task_metrics(task, y, predicted, threshold)
    prior = training_prior(train_features, spec)
    baseline = _baseline_metrics(y, prior, task, threshold)
    warnings = imbalance_warnings(y, predicted, model, prior, spec, settings, training_metrics)
    for warning in warnings:
        logger.warning("%s", warning["message"])
    return EvaluationMetrics.model_validate(
        {
            "task": task,
            "n_test_rows": len(predictions),
            "threshold": threshold if task == "binary" else None,
            "threshold_rule": rule,
            "model": model,
            "baseline": baseline,
            "beats_baseline": {name: improves(name, model[name], baseline[name]) for name in model},
            "intervals": metric_intervals(y, predicted, model, task, threshold, settings),
            "holdout": holdout_report,
            "current_batch": current_batch_metrics(current_predictions, prior, spec, threshold),
            "warnings": warnings,
        }
    )


def current_batch_metrics(
    predictions: pd.DataFrame | None,
    prior: np.ndarray | float,
    spec: FeatureSpec,
    threshold: float,
) -> dict[str, Any] | None:
    """The held-out metric set on the current rows that have an outcome, with their count.

    `model` is None when no current row has an outcome (or the ones that do cannot score the
    metrics, e.g. a single class); the reason says which. None without current predictions.
    """
    if predictions is None:
        return None
    known = predictions[predictions["label"].notna()]
    section: dict[str, Any] = {
        "n_rows": len(predictions),
        "n_rows_with_outcome": len(known),
        "model": None,
        "baseline": None,
        "reason": None,
    }
    if known.empty:
        return section | {"reason": "no current row has an outcome"}
    y = known["label"].to_numpy()
    if spec.task != "regression" and len(np.unique(y)) < 2:
        return section | {"reason": f"the current outcomes hold one class only ({y[0]:g})"}
    if spec.task == "multiclass":
        y = y.astype(int)
    try:
        model = task_metrics(spec.task, y, _predicted(known, spec), threshold)
    except ValueError as undefined:
        return section | {"reason": f"the metrics are undefined on these rows ({undefined})"}
    baseline = _baseline_metrics(y, prior, spec.task, threshold)
    return section | {"model": model, "baseline": baseline}


# Under this share of positive rows a fixed 0.5-style threshold tends to predict few positives:
# the run then says what recall it gives and what `threshold: auto` would give.
IMBALANCE_SHARE = 0.4


def imbalance_warnings(
    y: np.ndarray,
    predicted: np.ndarray,
    model: dict[str, float],
    prior: np.ndarray | float,
    spec: FeatureSpec,
    settings: EvaluationParams,
    training_metrics: TrainingMetrics | None,
) -> list[dict[str, Any]]:
    """A warning when a binary target's positive class is under IMBALANCE_SHARE of the training
    rows and the threshold is fixed: its held-out recall and F1, and the F1 at the threshold
    `auto` (`threshold_rule`) would pick on the validation rows."""
    if spec.task != "binary" or settings.threshold == "auto" or float(prior) >= IMBALANCE_SHARE:
        return []
    chosen = (training_metrics.thresholds if training_metrics is not None else None) or {}
    auto = chosen.get(settings.threshold_rule)
    auto_f1 = None
    if auto is not None:
        auto_f1 = task_metrics("binary", y, predicted, float(auto))["f1"]
    alternative = (
        f"; threshold: auto ({settings.threshold_rule}) would pick {auto:.3f}, "
        f"held-out F1 {auto_f1:.3f}"
        if auto_f1 is not None
        else ""
    )
    message = (
        f"The positive class '{spec.class_names()[1]}' is {float(prior):.1%} of the training "
        f"rows and the decision threshold is fixed at {settings.threshold}: held-out recall "
        f"{model['recall']:.3f}, F1 {model['f1']:.3f}{alternative}. Set evaluation.threshold: "
        f"auto in {EVALUATION_FILE} to fit the threshold to the data."
    )
    return [
        {
            "kind": "imbalanced_fixed_threshold",
            "positive_share": float(prior),
            "threshold": float(settings.threshold),
            "recall": model["recall"],
            "f1": model["f1"],
            "auto_threshold": None if auto is None else float(auto),
            "auto_f1": auto_f1,
            "message": message,
        }
    ]


def _judge_bound(
    name: str, value: float, bound: float, side: str, interval: tuple[float, float] | None
) -> tuple[str, str]:
    """The verdict on one bound (pass, inconclusive or fail) and why, on the interval if any."""
    outside = value < bound if side == "min" else value > bound
    if not outside:
        return "pass", ""
    word = "below the minimum" if side == "min" else "above the maximum"
    reason = f"{name} = {value:.4f} is {word} {bound}"
    if interval is None:
        return "fail", reason
    low, high = interval
    reaches = high >= bound if side == "min" else low <= bound
    shown = f"[{low:.4f}, {high:.4f}]"
    if reaches:
        return "inconclusive", f"{reason}, but its interval {shown} reaches it"
    return "fail", f"{reason}, and so is its whole interval {shown}"


def check_quality_gate(metrics: EvaluationMetrics, settings: EvaluationParams) -> QualityGate:
    """Fail the run when the model misses the declared gate; otherwise record the verdict.

    On few held-out rows (`gate_interval`) a bound fails only when the metric's whole bootstrap
    interval misses it; a miss within the interval passes as inconclusive, with a warning. The
    trivial baseline must be beaten by the estimate itself, whatever the rows.
    """
    task = metrics.task
    rules = settings.quality_gate.get(task, {})
    intervals = (metrics.intervals or {}).get("metrics", {})
    failures, inconclusive, checks = [], [], {}
    # Gate keys are checked against the task's metrics when the parameters are parsed.
    for name, rule in rules.items():
        value = metrics.model[name]
        interval = intervals.get(name)
        verdicts = [
            _judge_bound(name, value, bound, side, interval)
            for side, bound in (("min", rule.min), ("max", rule.max))
            if bound is not None
        ]
        failures += [reason for verdict, reason in verdicts if verdict == "fail"]
        inconclusive += [reason for verdict, reason in verdicts if verdict == "inconclusive"]
        found = {verdict for verdict, _ in verdicts}
        worst = next((v for v in ("fail", "inconclusive") if v in found), "pass")
        checks[name] = {"value": value, "interval": interval, "verdict": worst}
    if settings.must_beat_baseline:
        primary = PRIMARY_METRIC[task]
        if not metrics.beats_baseline[primary]:
            failures.append(
                f"{primary} = {metrics.model[primary]:.4f} does not beat the trivial "
                f"baseline's {metrics.baseline[primary]:.4f}"
            )
    rows = _rows_note(metrics)
    if failures:
        raise QualityGateFailed(
            f"Quality gate failed ({EVALUATION_FILE}, evaluation.quality_gate.{task}): "
            + "; ".join(failures)
            + rows
        )
    if inconclusive:
        logger.warning(
            "Quality gate passed as inconclusive (%s, evaluation.gate_interval): %s%s; more "
            "held-out rows would decide (holdout.test_size in %s)",
            EVALUATION_FILE,
            "; ".join(inconclusive),
            rows,
            FEATURES_FILE,
        )
    return QualityGate(
        passed=True,
        inconclusive=inconclusive,
        task=task,
        n_test_rows=metrics.n_test_rows,
        judged_on="interval" if intervals else "estimate",
        rules={k: v.model_dump() for k, v in rules.items()},
        checks=checks,
    )


def _rows_note(metrics: EvaluationMetrics) -> str:
    """How the held-out rows bear on the verdict, for the gate's messages."""
    intervals = metrics.intervals
    if not intervals:
        return ""
    return (
        f" ({intervals['confidence']:.0%} bootstrap intervals on {metrics.n_test_rows} "
        "held-out rows)"
    )


# The figures each task's evaluation draws, by name (their files under 08_reporting/plots/): a
# panel that does not apply to the task is not drawn at all.
CLASSIFICATION_PLOTS = ("roc_curve", "pr_curve", "confusion_matrix", "calibration")
REGRESSION_PLOTS = ("predicted_vs_actual", "residuals")
EVERY_TASK_PLOTS = ("feature_importance",)


def plot_names(task: str) -> tuple[str, ...]:
    """The names of the figures the evaluation of a task draws."""
    own = REGRESSION_PLOTS if task == "regression" else CLASSIFICATION_PLOTS
    return own + EVERY_TASK_PLOTS


def _require(spec: FeatureSpec, plot: str) -> None:
    """Refuse to draw a figure of another task's kind (see `plot_names`)."""
    if plot not in plot_names(spec.task):
        raise ValueError(f"The {plot} plot does not apply to a {spec.task} task")


@on_dask()
def draw_plots(
    predictions: pd.DataFrame,
    importance: pd.DataFrame,
    spec: FeatureSpec,
    settings: EvaluationParams,
) -> dict[str, Figure]:
    """The task's figures by name: ROC, precision-recall, confusion matrix and calibration for
    classification, predicted vs actual and residuals for regression, and feature importance."""
    draw = {
        "roc_curve": lambda: plot_roc_curve(predictions, spec),
        "pr_curve": lambda: plot_pr_curve(predictions, spec),
        "confusion_matrix": lambda: plot_confusion_matrix(predictions, spec),
        "calibration": lambda: plot_calibration(predictions, spec, settings),
        "predicted_vs_actual": lambda: plot_predicted_vs_actual(predictions, spec),
        "residuals": lambda: plot_residuals(predictions, spec),
        "feature_importance": lambda: plot_feature_importance(importance, settings),
    }
    return {name: draw[name]() for name in plot_names(spec.task)}


def _binary_targets(
    predictions: pd.DataFrame, spec: FeatureSpec
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, is-class, score) triples: one for binary, one-vs-rest per class for multiclass."""
    y = predictions["label"].to_numpy()
    if spec.task == "binary":
        return [(str(spec.class_names()[1]), y == 1, predictions["score"].to_numpy())]
    return [
        (str(name), y == index, predictions[f"score_{name}"].to_numpy())
        for index, name in enumerate(spec.class_names())
    ]


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most max_points evenly spaced rows, the first and last always kept."""
    if len(frame) <= max_points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep]


def _curve_points(
    predictions: pd.DataFrame,
    spec: FeatureSpec,
    columns: tuple[str, str],
    curve: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    """Points of a per-class curve as a (class, x, y) table; empty for regression."""
    if spec.task == "regression":
        return pd.DataFrame(columns=["class", *columns])
    frames = []
    for name, is_class, score in _binary_targets(predictions, spec):
        x, y = curve(is_class, score)
        points = pd.DataFrame({"class": name, columns[0]: x, columns[1]: y})
        frames.append(_thin(points, CURVE_POINTS))
    return pd.concat(frames, ignore_index=True).round(6)


@on_dask()
def roc_points(predictions: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """ROC curve points (class, fpr, tpr) as a table `dvc plots` can draw."""
    from sklearn import metrics as skm

    return _curve_points(predictions, spec, ("fpr", "tpr"), lambda y, s: skm.roc_curve(y, s)[:2])


@on_dask()
def pr_points(predictions: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Precision-recall points (class, recall, precision) as a table `dvc plots` can draw."""
    from sklearn import metrics as skm

    return _curve_points(
        predictions,
        spec,
        ("recall", "precision"),
        lambda y, s: skm.precision_recall_curve(y, s)[1::-1],
    )


def plot_roc_curve(predictions: pd.DataFrame, spec: FeatureSpec) -> Figure:
    """ROC curve (one-vs-rest per class for multiclass)."""
    import plotly.graph_objects as go
    from sklearn import metrics as skm

    _require(spec, "roc_curve")
    figure = go.Figure()
    for name, is_class, score in _binary_targets(predictions, spec):
        fpr, tpr, _ = skm.roc_curve(is_class, score)
        auc = skm.auc(fpr, tpr)
        figure.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc:.3f})")
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line_dash="dash")
    return figure.update_layout(
        title="ROC curve (held-out rows)",
        xaxis_title="False positive rate",
        yaxis_title="True positive rate",
    )


def plot_pr_curve(predictions: pd.DataFrame, spec: FeatureSpec) -> Figure:
    """Precision-recall curve (one-vs-rest per class for multiclass)."""
    import plotly.graph_objects as go
    from sklearn import metrics as skm

    _require(spec, "pr_curve")
    figure = go.Figure()
    for name, is_class, score in _binary_targets(predictions, spec):
        precision, recall, _ = skm.precision_recall_curve(is_class, score)
        ap = skm.average_precision_score(is_class, score)
        figure.add_scatter(x=recall, y=precision, mode="lines", name=f"{name} (AP {ap:.3f})")
    return figure.update_layout(
        title="Precision-recall curve (held-out rows)",
        xaxis_title="Recall",
        yaxis_title="Precision",
    )


def plot_confusion_matrix(predictions: pd.DataFrame, spec: FeatureSpec) -> Figure:
    """Confusion matrix of the point predictions."""
    import plotly.graph_objects as go
    from sklearn import metrics as skm

    _require(spec, "confusion_matrix")
    names = [str(c) for c in spec.class_names()]
    matrix = skm.confusion_matrix(
        predictions["label"].astype(int),
        predictions[PREDICTION].astype(int),
        labels=list(range(len(names))),
    )
    figure = go.Figure(go.Heatmap(z=matrix, x=names, y=names, text=matrix, texttemplate="%{text}"))
    return figure.update_layout(
        title="Confusion matrix (held-out rows)",
        xaxis_title="Predicted",
        yaxis_title="Actual",
        yaxis_autorange="reversed",
    )


def plot_calibration(
    predictions: pd.DataFrame, spec: FeatureSpec, settings: EvaluationParams
) -> Figure:
    """Reliability diagram: mean predicted probability against observed frequency per bin."""
    import plotly.graph_objects as go

    _require(spec, "calibration")
    bins = settings.calibration_bins
    figure = go.Figure()
    for name, is_class, score in _binary_targets(predictions, spec):
        observed, predicted = _calibration_points(is_class, score, bins)
        figure.add_scatter(x=predicted, y=observed, mode="lines+markers", name=name)
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line_dash="dash")
    return figure.update_layout(
        title="Calibration (held-out rows)",
        xaxis_title="Mean predicted probability",
        yaxis_title="Observed frequency",
    )


def _calibration_points(
    is_class: np.ndarray, score: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Observed frequency and mean score per equal-width probability bin (empty bins dropped)."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(score, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame({"bin": index, "y": is_class.astype(float), "p": score})
    grouped = frame.groupby("bin").mean()
    return grouped["y"].to_numpy(), grouped["p"].to_numpy()


def plot_predicted_vs_actual(predictions: pd.DataFrame, spec: FeatureSpec) -> Figure:
    """Predicted against actual values (regression)."""
    import plotly.graph_objects as go

    _require(spec, "predicted_vs_actual")
    sample = predictions.sample(n=min(len(predictions), 5000), random_state=0)
    low = float(min(sample["label"].min(), sample[PREDICTION].min()))
    high = float(max(sample["label"].max(), sample[PREDICTION].max()))
    figure = go.Figure()
    figure.add_scatter(x=sample["label"], y=sample[PREDICTION], mode="markers", name="rows")
    figure.add_scatter(x=[low, high], y=[low, high], mode="lines", name="ideal", line_dash="dash")
    return figure.update_layout(
        title="Predicted vs actual (held-out rows)", xaxis_title="Actual", yaxis_title="Predicted"
    )


def plot_residuals(predictions: pd.DataFrame, spec: FeatureSpec) -> Figure:
    """Distribution of residuals, actual minus predicted (regression)."""
    import plotly.graph_objects as go

    _require(spec, "residuals")
    residuals = predictions["label"] - predictions[PREDICTION]
    figure = go.Figure(go.Histogram(x=residuals, nbinsx=50, name="residuals"))
    return figure.update_layout(
        title="Residuals (actual - predicted, held-out rows)",
        xaxis_title="Residual",
        yaxis_title="Rows",
    )


def plot_feature_importance(importance: pd.DataFrame, settings: EvaluationParams) -> Figure:
    """Horizontal bar chart of the top features by gain share."""
    import plotly.graph_objects as go

    top = importance.head(settings.top_features).iloc[::-1]
    figure = go.Figure(go.Bar(x=top["gain_share"], y=top["feature"], orientation="h"))
    return figure.update_layout(
        title="Feature importance (share of total gain)",
        xaxis_title="Gain share",
        height=max(400, 22 * len(top)),
    )


def assemble_model_bundle(
    model: str,
    spec: FeatureSpec,
    contract: DatasetContract,
    settings: EvaluationParams,
    training_metrics: TrainingMetrics,
    metrics: EvaluationMetrics,
) -> ModelBundle:
    """The model bundle batch scoring and the API load: the model's and spec's hashes, the
    decision threshold these metrics were measured at, the contract and the held-out metrics."""
    held_out = HeldOut(n_test_rows=metrics.n_test_rows, metrics=metrics.model)
    return build_bundle(model, spec, contract, settings, training_metrics, held_out)
