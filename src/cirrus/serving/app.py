"""The FastAPI app: /v1/predict, /v1/model, /healthz and /readyz.

No `from __future__ import annotations` here: the request and response models are generated
when the app is built, and FastAPI reads the endpoint's annotations as real classes.
"""

import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from cirrus.contract import DataContractViolation, DatasetContract
from cirrus.modeling import PREDICTION
from cirrus.prediction_log import (
    FEATURE_SPEC_HASH,
    MODEL_VERSION,
    OUT_OF_RANGE,
    REQUEST_ID,
    log_identity,
)
from cirrus.prediction_log import UNKNOWN_COLUMNS as UNKNOWN
from cirrus.scoring import Scorer, score_columns, utc_now
from cirrus.serving.artifacts import FEATURE_SPEC, Project, load_project
from cirrus.serving.config import (
    OPTIONS_ENV,
    ServeError,
    ServeOptions,
    check_auth,
    resolve_token,
)
from cirrus.serving.connections import BoundedH11Protocol
from cirrus.serving.guard import Guard
from cirrus.serving.logbuffer import API_SOURCE, Answered, LogBuffer
from cirrus.serving.models import ModelHolder, ModelWatcher, ServedModel
from cirrus.serving.responses import (
    ERRORS,
    ModelInfo,
    Problem,
    Readiness,
    ValidationProblem,
    model_info,
    validation_problem,
)
from cirrus.serving.schema import BUNDLE_VERSION, PREDICTIONS, ServingSchema, build_schema
from cirrus.validation import out_of_range_columns

logger = logging.getLogger(__name__)
PREDICT_PATH = "/v1/predict"
OPEN_PATHS = frozenset({"/healthz"})
REQUEST_ID_HEADER = "x-request-id"


def new_request_id() -> str:
    """A unique id for a request, also written to the log with its rows."""
    return uuid.uuid4().hex


def json_response(payload: dict[str, Any], status: int = 200, request_id: str = "") -> Response:
    """A JSON answer (built directly: the payload is already in its documented shape)."""
    content = json.dumps(payload, separators=(",", ":"), default=str, allow_nan=False)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def problem(status: int, detail: str, request_id: str | None = None) -> Response:
    """An error answer: what went wrong, and the request id to find it in the log."""
    return json_response({"detail": detail, "request_id": request_id}, status, request_id or "")


def answer_rows(
    predictions: dict[str, Any],
    unknown: list[list[str]],
    ids: list[Any] | None,
    scorer: Scorer,
    out_of_range: list[list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Each row's result: the id sent (if the contract has one), score(s), prediction, the
    columns that held a level never seen in training and those outside their expected range."""
    columns = [*score_columns(scorer.spec), PREDICTION]
    values = [predictions[column].tolist() for column in columns]
    id_column = scorer.contract.id_column
    rows = []
    for index, row_values in enumerate(zip(*values, strict=True)):
        row: dict[str, Any] = {id_column: ids[index]} if id_column and ids is not None else {}
        row.update(zip(columns, row_values, strict=True))
        row[UNKNOWN] = unknown[index]
        row[OUT_OF_RANGE] = out_of_range[index] if out_of_range is not None else []
        rows.append(row)
    return rows


def require_salt(contract: DatasetContract, salt: str | None) -> None:
    """A hashed PII id needs the salt before the first row is logged."""
    if contract.pii.get(contract.id_column or "") == "hash" and not salt:
        raise DataContractViolation(
            f"The id column '{contract.id_column}' is PII declared 'hash', but no salt is set: "
            "put 'pii_salt: <random string>' in conf/local/credentials.yml or export "
            "CIRRUS_PII_SALT."
        )


def create_app(
    options: ServeOptions, project: Project | None = None, announce: bool = True
) -> FastAPI:
    """The prediction API for the project in `options`; raises a known error if it cannot
    serve (no token, no model, a bad contract)."""
    project = project or load_project(Path(options.project_path), options.env)
    token = resolve_token(project.credentials)
    check_auth(options, token)
    contract = project.contract
    project.require_model()
    schema = build_schema(contract, project.catalog.load(FEATURE_SPEC), options.max_rows)
    salt = project.pii_salt
    require_salt(contract, salt)
    holder = ModelHolder()
    watcher = ModelWatcher(project, schema, holder, options.reload_interval)
    # The first model, now: one that cannot be served stops the start.
    watcher.check(announce=announce)
    served, refused = holder.state()
    if served is None and refused is not None:
        raise ServeError(f"The model cannot be served: {refused.reason}")
    buffer = LogBuffer(
        project.prediction_log(), contract, salt, options.flush_rows, options.flush_seconds
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        buffer.start()
        watcher.start()
        yield
        watcher.stop()
        written = buffer.stop()
        logger.info(
            "Prediction log: %d row(s) written at shutdown, %d in all, %d lost, under %s.",
            written,
            buffer.rows_written,
            buffer.rows_lost,
            buffer.log.root,
        )

    app = FastAPI(
        title=f"Cirrus prediction API: {contract.name}",
        description=(
            f"Scores rows of `{contract.name}` ({contract.task}, target `{contract.target}`) "
            "with the served model. Every endpoint but /healthz needs "
            "'Authorization: Bearer <token>'."
        ),
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(
        Guard,
        token=token if options.auth else None,
        open_paths=OPEN_PATHS,
        limited_paths=frozenset({PREDICT_PATH}),
        body_limit=schema.body_limit,
        max_rows=options.max_rows,
    )
    app.state.holder, app.state.buffer, app.state.schema = holder, buffer, schema

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> Response:
        return json_response(validation_problem(error.errors()), 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        request_id = new_request_id()
        logger.exception("Request %s to %s failed.", request_id, request.url.path)
        return problem(
            500, f"Internal error; the server log has it under {request_id}.", request_id
        )

    @app.get("/healthz", summary="The process is up (no token needed).")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="A model is loaded and its smoke prediction passed.",
        response_model=Readiness,
        responses={503: {"model": Readiness}, **ERRORS},
    )
    async def readyz() -> Response:
        served, refused = holder.state()
        if served is None:
            reason = refused.reason if refused else "the first model is still loading"
            return json_response({"ready": False, "model_version": None, "reason": reason}, 503)
        version = served.scorer.model_version
        return json_response({"ready": True, "model_version": version, "reason": None})

    @app.get(
        "/v1/model",
        summary="The served model, its held-out metrics, and a refused newer one.",
        response_model=ModelInfo,
        responses=ERRORS,
    )
    async def model() -> Response:
        served, refused = holder.state()
        return json_response(model_info(served, refused, schema))

    request_body = schema.request
    response_body = schema.response

    @app.post(
        PREDICT_PATH,
        summary=f"Score 1 to {options.max_rows} rows.",
        response_model=response_body,
        responses={
            422: {"model": ValidationProblem, "description": "A row breaks the contract."},
            503: {"model": Problem, "description": "No model is loaded yet."},
            500: {"model": Problem, "description": "Scoring failed; see the log."},
            **ERRORS,
        },
    )
    async def predict(body: request_body) -> Response:  # type: ignore[valid-type]
        request_id = new_request_id()
        served = holder.served  # one reference for the whole request, even across a swap
        if served is None:
            return problem(503, "No model is loaded yet; see /readyz.", request_id)
        received = utc_now()
        try:
            payload, answered = score_request(body.rows, served, schema, request_id, received)
        except Exception:
            logger.exception("Scoring request %s failed.", request_id)
            detail = f"Scoring failed; the server log has the error under {request_id}."
            return problem(500, detail, request_id)
        buffer.add(answered)
        return json_response(payload, 200, request_id)

    return app


def score_request(
    rows: list[BaseModel],
    served: ServedModel,
    schema: ServingSchema,
    request_id: str,
    received: Any,
) -> tuple[dict[str, Any], Answered]:
    """The answer to validated rows and what the log keeps of it."""
    scorer = served.scorer
    frame = schema.frame(rows, received)
    matrix, predictions, unknown = scorer.score_matrix(frame)
    beyond = out_of_range_columns(frame, schema.expected_ranges)
    id_column = schema.contract.id_column
    ids = None
    if id_column is not None:
        name = schema.field_names[id_column]
        ids = [getattr(row, name) for row in rows]
    identity = log_identity(request_id, received, scorer, API_SOURCE)
    payload = {
        REQUEST_ID: request_id,
        MODEL_VERSION: scorer.model_version,
        FEATURE_SPEC_HASH: scorer.feature_spec_hash,
        BUNDLE_VERSION: scorer.bundle_version,
        PREDICTIONS: answer_rows(predictions, unknown, ids, scorer, beyond),
    }
    answered = Answered(matrix, predictions, unknown, scorer.spec, identity, ids, beyond)
    return payload, answered


def app_from_env() -> FastAPI:
    """The app of a uvicorn worker process (`--workers` > 1): options from the parent."""
    options = ServeOptions.from_env()
    BoundedH11Protocol.configure(options.header_timeout, options.max_connections)
    return create_app(options)


GRACEFUL_SECONDS = 20  # open requests get this long to finish on SIGTERM (Kubernetes waits 30)


def run_server(options: ServeOptions) -> None:
    """Build the app (failing early with a readable error) and serve it with uvicorn until
    SIGTERM or SIGINT; shutting down writes the buffered prediction log."""
    import uvicorn

    if not options.auth:
        check_auth(options, None)  # --no-auth on a non-loopback host: refused before loading
    project = load_project(Path(options.project_path), options.env)
    # With several workers each builds its own app; this one only fails early, and quietly.
    app = create_app(options, project, announce=options.workers == 1)
    settings: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "access_log": options.access_log,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "http": BoundedH11Protocol,  # idle connections time out; their number stays bounded
    }
    BoundedH11Protocol.configure(options.header_timeout, options.max_connections)
    if options.workers == 1:
        uvicorn.run(app, **settings)
        return
    # Each worker process builds its own app (its own model watcher and log buffer).
    os.environ[OPTIONS_ENV] = options.to_env()
    uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=options.workers, **settings)
