"""The lifecycle with the project's own node functions, called in-process without Kedro's runner.

Each stage runs the nodes of the registered pipeline of that name, in the pipeline's own order,
so it cannot drift from `src/cirrus/pipelines/<stage>/pipeline.py`: same functions, same typed
parameter blocks (typed by Kedro's own parameter validation), same artifacts in the catalog's
formats. Only Kedro's session, catalog, runner and hooks are missing. Used by
benchmarks/plain_baseline.py.
"""

from __future__ import annotations

from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from kedro.validation.parameter_validator import ParameterValidator
from pydantic import BaseModel

from cirrus.catalog import LIFECYCLE, PII_SALT_DATASET
from cirrus.feature_spec import FeatureSpec
from cirrus.pipeline_registry import registered_pipelines

if TYPE_CHECKING:
    from plain_baseline import Context

PIPELINES = registered_pipelines()
RAW_INPUTS = ("raw_reference", "raw_current")


def _typed_parameters(ctx: Context) -> dict[str, Any]:
    """The parameters typed as in a run (once per process), flattened to `params:` keys."""
    if "typed" not in ctx.cache:
        typed = ParameterValidator(PIPELINES).validate_raw_params(ctx.params)
        flat: dict[str, Any] = {}
        for key, value in typed.items():
            flat[f"params:{key}"] = value
            if isinstance(value, dict):
                flat.update({f"params:{key}.{sub}": v for sub, v in value.items()})
        ctx.cache["typed"] = flat
    return ctx.cache["typed"]


def _catalog(ctx: Context) -> dict[str, dict[str, Any]]:
    """The committed catalog entries (their type and file path), read once per process."""
    if "catalog" not in ctx.cache:
        path = ctx.project / "conf" / "base" / "catalog.yml"
        ctx.cache["catalog"] = yaml.safe_load(path.read_text())
    return ctx.cache["catalog"]


def _format(name: str, value: Any, ctx: Context) -> str | None:
    """The file format of an output: its catalog file's suffix (figures: the store's own)."""
    if not isinstance(value, pd.DataFrame | dict | str):
        return None
    filepath = _catalog(ctx).get(name, {}).get("filepath", "")
    return PurePosixPath(filepath).suffix.lstrip(".") or None


def _input(name: str, ctx: Context) -> Any:
    """A node input: a typed parameter block, the salt, a raw CSV or an earlier artifact."""
    if name.startswith("params:"):
        return _typed_parameters(ctx)[name]
    if name == PII_SALT_DATASET:
        return ctx.salt
    if name in RAW_INPUTS:
        return pd.read_csv(ctx.raw[name])
    value = ctx.store.load(name)
    if _catalog(ctx).get(name, {}).get("type", "").endswith("FeatureSpecDataset"):
        return value if isinstance(value, FeatureSpec) else FeatureSpec.model_validate(value)
    return value


def run_stage(stage: str, ctx: Context) -> None:
    """Run every node of the stage's registered pipeline, saving each output like the catalog."""
    for node in PIPELINES[stage].nodes:
        outputs = node.run({name: _input(name, ctx) for name in node.inputs})
        for name, value in outputs.items():
            saved = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
            ctx.store.save(name, saved, fmt=_format(name, saved, ctx))


STAGES = {name: partial(run_stage, name) for name in LIFECYCLE}
