"""The configuration reference, `docs/configuration.md`, generated from the typed settings models.

Every parameters block of `conf/base/parameters_*.yml` and the `deploy` block of
`conf/base/deploy.yml`: the file that holds it, then each field, nested models too, as a dotted key
with its type, default and description (the field's docstring). `kedro cirrus config-reference`
writes the file; `--check` (and a test) fails when the committed file differs from it.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

import cirrus.contract  # noqa: F401  (defines the `contract` block's model)
from cirrus.deploy.deploy_yml import DEPLOY_FILE, DEPLOY_KEY, DeployConfig
from cirrus.parameters import FORMER_PARAMETER_FILES, PARAMETER_FILES, Block, parameters_file

REFERENCE_FILE = "docs/configuration.md"
REGENERATE = "kedro cirrus config-reference"
# How the keys of a mapping of models are named in the dotted keys, by the mapping's field name
# (one name per level of nesting); any other mapping's keys are `<key>`, a list's items `[]`.
KEY_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "columns": ("<column>",),
    "quality_gate": ("<task>", "<metric>"),
    "search_space": ("<parameter>",),
    "steps": ("<step>",),
}
REQUIRED = "required"
NESTED = "mapping"


@dataclass(frozen=True)
class Section:
    """One block of settings: its dotted key, the file that holds it and its model."""

    key: str
    file: str
    model: type[BaseModel]


@dataclass(frozen=True)
class Row:
    """One setting of the reference."""

    key: str
    type: str
    default: str
    description: str


def _blocks(model: type[Block]) -> Iterator[type[Block]]:
    """Every subclass of a block model that names a block, at any depth."""
    for child in model.__subclasses__():
        if "block_key" in vars(child):
            yield child
        yield from _blocks(child)


def sections() -> list[Section]:
    """Every parameters block in the order of PARAMETER_FILES, then the deploy block."""
    order = list(PARAMETER_FILES)
    blocks = sorted(
        {model.block_key: model for model in _blocks(Block)}.items(),
        key=lambda item: (
            order.index(item[0].split(".")[0]) if item[0].split(".")[0] in order else len(order),
            item[0],
        ),
    )
    found = [Section(key, parameters_file(key), model) for key, model in blocks]
    return [*found, Section(DEPLOY_KEY, DEPLOY_FILE, DeployConfig)]


def settings_models() -> list[type[BaseModel]]:
    """Every model of the reference, the blocks' and the nested ones, each once, in order."""
    seen: dict[type[BaseModel], None] = {}

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen[model] = None
        for field in model.model_fields.values():
            for nested in _models_in(field.annotation):
                visit(nested)

    for section in sections():
        visit(section.model)
    return list(seen)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds, at any depth (in a list, a mapping or a union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def type_name(annotation: Any) -> str:
    """A field's type as a YAML reader names it: `int`, `str | null`, `list[str]`, `a | b`."""
    origin = get_origin(annotation)
    if annotation is None or annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if origin is Literal:
        return " | ".join(str(value) for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return NESTED
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_name(arg) for arg in get_args(annotation))}]"
    return getattr(annotation, "__name__", str(annotation))


BOUNDS = {
    annotated_types.Gt: (">", "gt"),
    annotated_types.Ge: (">=", "ge"),
    annotated_types.Lt: ("<", "lt"),
    annotated_types.Le: ("<=", "le"),
    annotated_types.MinLen: ("length >=", "min_length"),
}


def constraints(field: FieldInfo) -> list[str]:
    """A field's declared bounds, e.g. `>= 1`, and the pattern a text must match."""
    found = []
    for item in field.metadata:
        for kind, (word, attribute) in BOUNDS.items():
            if isinstance(item, kind):
                found.append(f"{word} {getattr(item, attribute)}")
        pattern = getattr(item, "pattern", None)
        if pattern is not None:
            found.append(f"matching `{pattern}`")
    return found


def yaml_value(value: Any) -> str:
    """A default as YAML spells it: null, true, 0.5, text, [], {}."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if value is None or isinstance(value, bool | list | tuple | dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str):
        return json.dumps(value) if value == "" else value
    return str(value)


def _children(key: str, name: str, annotation: Any, instance: Any) -> Iterator[Row]:
    """The rows below a field whose type holds models: its own fields, or its items' fields."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from rows(annotation, key, instance)
        return
    placeholders = iter(KEY_PLACEHOLDERS.get(name, ()))
    while True:
        origin = get_origin(annotation)
        if origin is dict:
            key = f"{key}.{next(placeholders, '<key>')}"
            annotation = get_args(annotation)[1]
        elif origin is list:
            key = f"{key}[]"
            annotation = get_args(annotation)[0]
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from rows(annotation, key, None)


def rows(model: type[BaseModel], prefix: str, instance: BaseModel | None = None) -> Iterator[Row]:
    """A row per field of a model under a dotted prefix, each nested model's fields after it.

    `instance`: the model's default as its parent declares it, whose values are then the defaults.
    """
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        bounds = constraints(field)
        kind = f"`{type_name(field.annotation)}`" + (f" ({', '.join(bounds)})" if bounds else "")
        if instance is not None:
            value: Any = getattr(instance, name)
        elif field.is_required():
            value = PydanticUndefined
        else:
            value = field.get_default(call_default_factory=True)
        nested = bool(_models_in(field.annotation))
        if value is PydanticUndefined:
            default = REQUIRED
        elif isinstance(value, BaseModel):
            default = "(below)"
        else:
            default = f"`{yaml_value(value)}`"
        description = " ".join((field.description or "").split())
        yield Row(key, kind, default, description)
        if nested:
            child = value if isinstance(value, BaseModel) else None
            yield from _children(key, name, field.annotation, child)


def _cell(text: str) -> str:
    """Text made safe for a Markdown table cell."""
    return text.replace("|", "\\|")


def _first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph on one line."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def render_section(section: Section) -> list[str]:
    """One block: heading, file, what it is, and its table of settings."""
    top = section.key.split(".")[0]
    lines = [
        f"## `{section.key}`",
        "",
        f"In [`{section.file}`](../{section.file}).",
    ]
    former = FORMER_PARAMETER_FILES.get(top)
    if former and former != section.file:
        lines[-1] += f" Still read from `{former}`, where it lived before, with a warning."
    lines += [
        "",
        _first_paragraph(section.model.__doc__),
        "",
        "| Key | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{_cell(row.key)}` | {_cell(row.type)} | {_cell(row.default)} | "
        f"{_cell(row.description)} |"
        for row in rows(section.model, section.key)
    ]
    return [*lines, ""]


def render_reference() -> str:
    """The whole reference, as docs/configuration.md holds it."""
    found = sections()
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the typed settings models by `{REGENERATE}`; do not edit it by hand (a "
        "test fails when it differs from what the command writes). A setting's description is "
        "the docstring of its field, in `src/cirrus/parameters.py`, `src/cirrus/contract.py` and "
        "`src/cirrus/deploy/deploy_yml.py`.",
        "",
        "Every block is strict: an unknown or misspelt key fails, naming the file and the "
        "dotted key (a parameters block before the first node runs). A key of `conf/base/` is "
        "overridden in `conf/<env>/` (the same file name) or, for the parameters, with "
        "`kedro run --params key=value`. The default is what applies when a key is left out; "
        "the files in `conf/base/` set some keys otherwise. `<column>`, `<step>` and the like "
        "stand for names you choose, `[]` for each item of a list.",
        "",
        *[f"- [`{s.key}`](#{s.key.replace('.', '')}) in `{s.file}`" for s in found],
        "",
    ]
    for section in found:
        lines += render_section(section)
    return "\n".join(lines).rstrip("\n") + "\n"
