"""The fixed answer shapes of the API (errors, readiness, the model report), as documented in
/openapi.json, and the functions that fill them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from cirrus.serving.models import Refusal, ServedModel
from cirrus.serving.schema import ServingSchema


class Problem(BaseModel):
    """What went wrong, and the request id the server log has it under."""

    detail: str
    request_id: str | None = None


class Unauthorized(BaseModel):
    """No bearer token, or not the API token."""

    detail: str


class FieldProblem(BaseModel):
    """One field of the request that breaks the contract (`loc` is its path in the body)."""

    type: str
    loc: list[str | int]
    msg: str
    ctx: dict[str, str] = Field(default_factory=dict)


class ValidationProblem(BaseModel):
    """Every problem of a refused request, and all of them in one line."""

    detail: list[FieldProblem]
    message: str


class Readiness(BaseModel):
    """Whether a model answers requests; if not, why."""

    ready: bool
    model_version: str | None
    reason: str | None


class RefusedModel(BaseModel):
    """A newer model that was not swapped in: the served one kept serving."""

    model_version: str | None
    feature_spec_hash: str | None
    reason: str
    at: str


class ModelInfo(BaseModel):
    """The served model: its identity, when it was trained and loaded, its held-out metrics."""

    model_version: str | None
    feature_spec_hash: str | None
    bundle_version: str | None
    trained_at: str | None
    loaded_at: str | None
    task: str
    classes: list[str]
    threshold: float | None
    held_out_metrics: dict[str, float | None] | None
    held_out_rows: int | None
    refused: RefusedModel | None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Unauthorized,
        "description": "No bearer token, or not the API token.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    }
}


def place(loc: Sequence[str | int]) -> str:
    """A field's path in the body as a person writes it: rows[0].age."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _line(error: dict[str, Any]) -> str:
    """One problem in words."""
    if error.get("type") == "json_invalid":
        position = error["loc"][-1] if len(error.get("loc", ())) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "")
        return f"body: not valid JSON ({reason} at character {position})"
    return f"{place(error.get('loc', ()))}: {error.get('msg', 'invalid')}"


def validation_problem(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The 422 body for pydantic's errors, without echoing the values sent (they may be PII)."""
    detail = [
        {
            "type": str(error.get("type", "invalid")),
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "ctx": {key: str(value) for key, value in (error.get("ctx") or {}).items()},
        }
        for error in errors
    ]
    return {"detail": detail, "message": "; ".join(_line(error) for error in errors)}


def _finite(value: Any) -> float | None:
    """A metric as a JSON number (None when it is not a finite number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def model_info(
    served: ServedModel | None, refused: Refusal | None, schema: ServingSchema
) -> dict[str, Any]:
    """The /v1/model answer."""
    scorer = served.scorer if served else None
    held_out = served.bundle.held_out if served else None
    return {
        "model_version": scorer.model_version if scorer else None,
        "feature_spec_hash": scorer.feature_spec_hash if scorer else None,
        "bundle_version": scorer.bundle_version if scorer else None,
        "trained_at": served.trained_at if served else None,
        "loaded_at": served.loaded_at if served else None,
        "task": schema.task,
        "classes": list(schema.classes),
        "threshold": scorer.threshold if scorer else None,
        "held_out_metrics": (
            {name: _finite(value) for name, value in held_out.metrics.items()} if held_out else None
        ),
        "held_out_rows": held_out.n_test_rows if held_out else None,
        "refused": (
            {
                "model_version": refused.model_version,
                "feature_spec_hash": refused.feature_spec_hash,
                "reason": refused.reason,
                "at": refused.at,
            }
            if refused
            else None
        ),
    }
