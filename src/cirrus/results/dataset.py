"""`ResultDataset`: a JSON file read and written as one typed result."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from kedro_datasets.json import JSONDataset

from cirrus.results.base import Result, parse_result


def result_type(path: str) -> type[Result]:
    """The result class named by a dotted path (`cirrus.results.DriftSummary`)."""
    module, _, name = path.rpartition(".")
    found = getattr(import_module(module), name, None)
    if not (isinstance(found, type) and issubclass(found, Result)):
        raise ValueError(f"{path!r} names no cirrus.results.Result class")
    return found


class ResultDataset(JSONDataset):
    """`json.JSONDataset` whose document is a typed result (`result:` names its class).

    Load validates the file into the result; save takes the result (or a plain dict, validated
    first, so a node that builds a wrong document fails before anything is written).
    """

    def __init__(self, *, result: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._result = result_type(result)

    def load(self) -> Result:
        """Read the file and validate it into its result class."""
        return parse_result(self._result, super().load(), str(self._filepath))

    def save(self, data: Result | dict[str, Any]) -> None:
        """Validate, then write the keys that were set, in declaration order."""
        source = f"the {self._result.__name__} for {self._filepath}"
        super().save(parse_result(self._result, data, source).to_json())

    def _describe(self) -> dict[str, Any]:
        """What Kedro prints for this dataset."""
        return {**super()._describe(), "result": self._result.__name__}
