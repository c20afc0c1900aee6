"""The served model and its replacement without downtime.

A watcher thread polls the model artifacts. When their content changes it loads a new `Scorer`,
checks it fits the API (task, classes, input columns, the booster's features) and scores a smoke
row through the same path as a request; only then is it swapped in, by one reference assignment.
A model that fails any step is refused: the previous one keeps serving, and `/v1/model` says
which one was refused and why.
"""

from __future__ import annotations

import gc
import logging
import math
import threading
from dataclasses import dataclass

import numpy as np

from cirrus.contract import parse_contract
from cirrus.errors import CirrusError, message_of
from cirrus.feature_spec import FeatureSpec
from cirrus.model_file import ModelFileError
from cirrus.modeling import PREDICTION
from cirrus.results import ModelBundle
from cirrus.scoring import Scorer, content_version, score_columns, spec_hash, utc_now
from cirrus.serving.artifacts import Artifacts, Project
from cirrus.serving.schema import ServingSchema, request_columns, row_model

logger = logging.getLogger(__name__)


def one_line(error: BaseException) -> str:
    """An error's message on one line (a refusal reason is shown in logs and JSON)."""
    return " ".join(message_of(error).split())


class ModelRefused(CirrusError):
    """A model that must not serve: the message says why."""

    hint = "Train and publish a model that passes these checks: `kedro run`."


@dataclass(frozen=True)
class ServedModel:
    """A model answering requests, and what `/v1/model` reports about it."""

    scorer: Scorer
    bundle: ModelBundle
    fingerprint: str
    trained_at: str | None
    loaded_at: str


@dataclass(frozen=True)
class Refusal:
    """A newer model that was not swapped in, and why."""

    fingerprint: str
    model_version: str | None
    feature_spec_hash: str | None
    reason: str
    at: str


def spec_input_columns(spec: FeatureSpec) -> set[str]:
    """The raw columns the feature spec reads."""
    ratios = {column for pair in spec.ratios.values() for column in pair}
    return {
        *spec.numeric,
        *spec.categories,
        *spec.log,
        *ratios,
        *spec.date_parts,
        *spec.missing_indicators,
        *spec.key_columns,
    }


def fit_problems(scorer: Scorer, schema: ServingSchema) -> list[str]:
    """Why a loaded model does not fit the API being served (nothing when it fits)."""
    spec, booster = scorer.spec, scorer.booster
    problems = []
    if spec.task != schema.task:
        problems.append(f"its task is {spec.task}, the API serves {schema.task}")
    if tuple(spec.class_names()) != schema.classes:
        problems.append(f"its classes are {spec.class_names()}, the API's {list(schema.classes)}")
    missing = sorted(spec_input_columns(spec) - {*schema.columns, schema.contract.target})
    if missing:
        problems.append(f"its feature spec reads columns a request does not carry: {missing}")
    if booster.num_feature() != len(spec.feature_columns):
        problems.append(
            f"the model takes {booster.num_feature()} features, the feature spec makes "
            f"{len(spec.feature_columns)}"
        )
    elif booster.feature_name() != spec.feature_columns:
        problems.append("the model's feature names differ from the feature spec's columns")
    expected_models = len(spec.class_names()) if spec.task == "multiclass" else 1
    if booster.num_model_per_iteration() != expected_models:
        problems.append(
            f"the model has {booster.num_model_per_iteration()} tree(s) per iteration, the task "
            f"needs {expected_models}"
        )
    return problems


def smoke_problems(scorer: Scorer, schema: ServingSchema) -> list[str]:
    """Score a row built from the contract through the request path; say what went wrong."""
    now = utc_now()
    row = schema.row.model_validate(schema.sample_row(scorer.spec, now))
    _, predictions, unknown = scorer.score_matrix(schema.frame([row], now))
    if len(predictions[PREDICTION]) != 1 or len(unknown) != 1:
        return [f"the smoke prediction returned {len(predictions[PREDICTION])} rows for 1"]
    if scorer.spec.task == "regression":
        value = float(predictions[PREDICTION][0])
        return [] if math.isfinite(value) else [f"the smoke prediction is {value}"]
    scores = np.array([predictions[c] for c in score_columns(scorer.spec)], dtype="float64")
    if not (np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()):
        return [f"the smoke prediction's scores are not probabilities: {scores.tolist()}"]
    return []


def request_schema_problems(bundle: ModelBundle, schema: ServingSchema) -> list[str]:
    """Why the bundle's contract cannot be served by this process: it changes the request
    schema, which only a restart applies (nothing when the requests stay the same)."""
    try:
        contract = parse_contract(bundle.contract)
    except Exception as error:
        return [f"its contract does not parse: {one_line(error)}"]
    if row_model(contract).model_json_schema() == schema.row.model_json_schema():
        return []
    ours, theirs = set(request_columns(schema.contract)), set(request_columns(contract))
    changed = sorted(ours ^ theirs)
    detail = f" (columns added or removed: {changed})" if changed else " (column rules changed)"
    return [
        f"its contract (hash {bundle.contract_hash}) changes the request schema{detail}; "
        "restart the server to serve it"
    ]


def build_served(artifacts: Artifacts, schema: ServingSchema) -> ServedModel:
    """A checked, smoke-tested bundle ready to swap in whole; ModelRefused says why it is not."""
    problems = request_schema_problems(artifacts.bundle, schema)
    if problems:
        raise ModelRefused("; ".join(problems))
    try:
        scorer = Scorer.load(
            artifacts.model_text, artifacts.spec, schema.contract, artifacts.bundle
        )
    except ModelFileError as error:  # checked before LightGBM parsed it: the reason says why
        raise ModelRefused(one_line(error).rstrip(".")) from error
    except Exception as error:
        raise ModelRefused(f"the model does not load: {one_line(error)}") from error
    problems = fit_problems(scorer, schema)
    if not problems:
        try:
            problems = smoke_problems(scorer, schema)
        except Exception as error:
            problems = [f"the smoke prediction failed: {type(error).__name__}: {one_line(error)}"]
    if problems:
        raise ModelRefused("; ".join(problems))
    return ServedModel(
        scorer=scorer,
        bundle=artifacts.bundle,
        fingerprint=artifacts.fingerprint,
        trained_at=artifacts.trained_at,
        loaded_at=utc_now().isoformat(),
    )


class ModelHolder:
    """The model serving now and the last refused one; readers take one reference, no lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.served: ServedModel | None = None
        self.refused: Refusal | None = None

    def swap(self, model: ServedModel) -> ServedModel | None:
        """Serve `model` from the next request on; returns the one it replaces."""
        with self._lock:
            previous, self.served, self.refused = self.served, model, None
        return previous

    def refuse(self, refusal: Refusal) -> None:
        """Record a refused model (the served one stays)."""
        with self._lock:
            self.refused = refusal

    def state(self) -> tuple[ServedModel | None, Refusal | None]:
        """The served and refused models, read together."""
        with self._lock:
            return self.served, self.refused


def _versions(artifacts: Artifacts | None) -> tuple[str | None, str | None]:
    """The model version and feature-spec hash of an artifact set, when it was read."""
    if artifacts is None:
        return None, None
    return content_version(artifacts.model_text), spec_hash(artifacts.spec)


class ModelWatcher:
    """Polls the artifacts every `interval` seconds and swaps in a changed model that passes."""

    def __init__(
        self, project: Project, schema: ServingSchema, holder: ModelHolder, interval: float
    ) -> None:
        self.project, self.schema, self.holder, self.interval = project, schema, holder, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked: str | None = None  # the stored bytes of the artifacts last checked

    def _read(self) -> tuple[str, Artifacts | None, str | None]:
        """The artifacts' fingerprint, and the artifacts or why they cannot be read."""
        try:
            artifacts = self.project.read_artifacts()
        except Exception as error:
            reason = f"the artifacts cannot be read: {one_line(error)}"
            return f"unreadable:{reason}", None, reason
        return artifacts.fingerprint, artifacts, None

    def _known(self, fingerprint: str) -> bool:
        """Whether this artifact set is the served one or was refused already."""
        served, refused = self.holder.state()
        return fingerprint in {m.fingerprint for m in (served, refused) if m is not None}

    def _read_settled(self) -> tuple[str, Artifacts | None, str | None] | None:
        """A changed artifact set read whole, or None while a run publishes or it is unchanged.

        A run moves its outputs into place one by one under a journal: a read that overlapped
        the moves differs from a second read made after the journal was gone, so the set is
        taken only when no journal was seen around the first read and a second read agrees.
        """
        if self.project.publishing():
            return None
        stored = self.project.stored_fingerprint()
        if stored is not None and stored == self._checked:
            return None  # the same bytes as last time: nothing to parse
        first = self._read()
        if self._known(first[0]):
            self._checked = stored
            return None
        if self.project.publishing() or self._read()[0] != first[0]:
            return None
        self._checked = stored
        return first

    def check(self, announce: bool = True) -> bool:
        """One poll: load, check and swap in a changed model; returns whether one was swapped
        (said in the log unless `announce` is off: a process that only checks, never serves)."""
        settled = self._read_settled()
        if settled is None:
            return False
        fingerprint, artifacts, reason = settled
        if artifacts is not None:
            try:
                model = build_served(artifacts, self.schema)
            except ModelRefused as refusal:
                reason = str(refusal)
            else:
                previous = self.holder.swap(model)
                # What is alive now (Kedro, the app, the model) stays: out of the collector's
                # full passes, those passes are short and do not pause requests for long.
                gc.freeze()
                old = previous.scorer.model_version if previous else None
                log = logger.info if announce else logger.debug
                log(
                    "Serving model %s (feature spec %s, bundle %s)%s.",
                    model.scorer.model_version,
                    model.scorer.feature_spec_hash,
                    model.bundle.version,
                    f", replacing {old}" if old else "",
                )
                return True
        version, spec = _versions(artifacts)
        self.holder.refuse(Refusal(fingerprint, version, spec, str(reason), utc_now().isoformat()))
        served = self.holder.served
        keeps = (
            f"model {served.scorer.model_version} keeps serving" if served else "none serves yet"
        )
        logger.error("Refused model %s: %s; %s.", version or "(unreadable)", reason, keeps)
        return False

    def _run(self) -> None:
        """Poll until stopped; a failing poll is logged and the next one tries again."""
        while True:
            try:
                self.check()
            except Exception:
                logger.exception("Checking for a new model failed; trying again.")
            if self._stop.wait(self.interval):
                return

    def start(self) -> None:
        """Load the first model now and watch for new ones, in a background thread."""
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (a load under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
