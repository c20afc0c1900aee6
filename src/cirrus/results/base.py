"""The base of every typed result and the one way a result file is parsed."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from cirrus.errors import CirrusError

R = TypeVar("R", bound="Result")


class ResultFileError(CirrusError, ValueError):
    """A saved result does not have the keys and types its reader expects."""

    hint = "Rebuild it with the run that writes it (`kedro run`), or restore it from DVC."


class Result(BaseModel):
    """A strict, immutable result: unknown keys are refused, fields are read by attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON document as written: the keys that were set, in declaration order."""
        return self.model_dump(mode="json", exclude_unset=True)


def _problem(item: Any) -> str:
    """One validation problem as `'key.path': what is wrong`."""
    where = ".".join(str(part) for part in item["loc"]) or "(document)"
    if item["type"] == "missing":
        return f"key '{where}' is missing"
    if item["type"] == "extra_forbidden":
        return f"key '{where}' is not expected (renamed or misspelt?)"
    if item["type"] == "value_error" and where == "(document)":
        return str(item["ctx"]["error"])  # the document's own check names its keys
    return f"'{where}': {item['msg']}"


def parse_result(model: type[R], raw: Any, source: str) -> R:
    """Validate a loaded document into `model`, naming `source` and each bad key on error."""
    if isinstance(raw, model):
        return raw
    try:
        return model.model_validate(raw)
    except ValidationError as failure:
        problems = "; ".join(_problem(item) for item in failure.errors())
        raise ResultFileError(f"{source} is not a valid {model.__name__}: {problems}") from None
