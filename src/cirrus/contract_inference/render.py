"""The YAML init-contract writes: the contract, split and feature blocks with a comment on
each decision to review, and the catalog with its raw entries pointed at the file (the rest of
the catalog kept line for line)."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

import numpy as np
import yaml

from cirrus.catalog import RAW_DATASETS, RAW_INFERENCE
from cirrus.contract_inference.outcome import ContractInferenceError, InferredConfig
from cirrus.contract_inference.read import PARQUET

CATALOG_FILE = "conf/base/catalog.yml"
PARQUET_DATASET = "pandas.ParquetDataset"
CSV_DATASET = "cirrus.datasets.CheckedCSVDataset"


def _scalar(value: Any, quote: bool = False) -> str:
    """One YAML scalar; `quote` forces a string to be quoted (labels, allowed values)."""
    if quote and isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, np.generic):
        value = value.item()
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _flow(value: Any, quote: bool = False) -> str:
    """A value in YAML flow style: lists as [...], mappings as {...}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v, quote)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(item, quote) for item in value) + "]"
    return _scalar(value, quote)


def _wrapped_list(items: list[Any], indent: int, width: int = 99, quote: bool = False) -> str:
    """A flow list that starts at column `indent`, wrapped onto aligned continuation lines."""
    parts = [_flow(item, quote) for item in items]
    if not parts:
        return "[]"
    lines, current, start = [], "[", indent
    for index, part in enumerate(parts):
        piece = part + ("," if index < len(parts) - 1 else "]")
        if start + len(current) + len(piece) > width and current.strip() != "[":
            lines.append(current.rstrip())
            current, start = " " * (indent + 1), 0
        current += piece + " "
    lines.append(current.rstrip())
    return "\n".join(lines)


def _with_comment(line: str, comment: str | None, column: int = 40, width: int = 100) -> str:
    """A YAML line with its comment: aligned at `column` after it when that fits in `width`,
    else on the line above, at the same indentation."""
    if not comment:
        return line
    inline = f"{line.ljust(column - 1)} # {comment}"
    if len(inline) <= width and "\n" not in line:
        return inline
    indent = " " * (len(line) - len(line.lstrip()))
    wrapped = textwrap.wrap(comment, width - len(indent) - 2)
    return "\n".join([*(f"{indent}# {part}" for part in wrapped), line])


def _rule(rule: dict[str, Any]) -> str:
    """A column rule in flow style, its allowed values always quoted."""
    parts = [f"{key}: {_flow(value, quote=key == 'allowed')}" for key, value in rule.items()]
    return "{" + ", ".join(parts) + "}"


def render_contract(config: InferredConfig) -> str:
    """conf/base/parameters_contract.yml: the contract, with comments."""
    c, notes = config.contract, config.comments
    lines = [
        f"# The dataset contract of {config.source}, written by `kedro cirrus init-contract`",
        "# from the data: dtypes, nullability and observed ranges as pandera's infer_schema",
        "# reads the file; roles, task and the target's labels by dtype and cardinality. Lines",
        "# marked `review:` are guesses to check. Columns not named here are dropped at ingestion.",
        "contract:",
        f"  name: {_scalar(c['name'])}",
        _with_comment(f"  id_column: {_scalar(c['id_column'])}", notes.get("id_column")),
        _with_comment(
            f"  event_time_column: {_scalar(c['event_time_column'])}",
            notes.get("event_time_column"),
        ),
        _with_comment(f"  time_zone: {_scalar(c['time_zone'])}", notes.get("time_zone")),
        _with_comment(
            f"  missing_values: {_flow(c['missing_values'], quote=True)}",
            notes.get("missing_values"),
        ),
        f"  target: {_scalar(c['target'])}",
        _with_comment(f"  task: {c['task']}", f"binary | multiclass | regression: {notes['task']}"),
    ]
    if "positive_class" in c:
        lines.append(
            _with_comment(
                f"  positive_class: {_scalar(c['positive_class'], quote=True)}",
                f"review: {notes['positive_class']}",
            )
        )
    lines.append("  features:")
    for kind in ("numeric", "categorical", "datetime"):
        prefix = f"    {kind}: "
        lines.append(prefix + _wrapped_list(c["features"][kind], len(prefix)))
    if c["pii"]:
        lines.append("  pii:                                  # drop, or hash (salted SHA-256)")
        reasons = {item.column: item.reason for item in config.left_out}
        for column, how in c["pii"].items():
            lines.append(
                _with_comment(f"    {_scalar(column)}: {how}", f"review: {reasons[column]}")
            )
    else:
        lines.append("  pii: {}                               # drop, or hash (salted SHA-256)")
    lines += [
        "  # Rules from pandera's inference on the file (dtype, nullable). expected_min/max is",
        "  # the observed range: a value beyond it is scored, counted and reported; min/max",
        "  # refuse the row (only for impossible values).",
        "  columns:",
    ]
    for column, rule in c["columns"].items():
        line = f"    {_scalar(column)}: {_rule(rule)}"
        if len(line) > 100:  # block style, the allowed values wrapped
            block = [f"    {_scalar(column)}:"]
            for key, value in rule.items():
                prefix = f"      {key}: "
                shown = (
                    _wrapped_list(value, len(prefix), quote=True)
                    if key == "allowed"
                    else (_scalar(value))
                )
                block.append(prefix + shown)
            line = "\n".join(block)
        lines.append(_with_comment(line, config.rule_comments.get(column)))
    others = [item for item in config.left_out if item.pii is None]
    if others:
        lines.append("  # Left out of the features (dropped at ingestion; name one in `features`")
        lines.append("  # and give it a rule to use it):")
        lines += [f"  #   {item.column}: {item.reason}" for item in others]
    return "\n".join(lines) + "\n"


def render_ingestion(config: InferredConfig) -> str:
    """conf/base/parameters_ingestion.yml: the reference/current split, with comments."""
    notes = config.comments
    lines = [
        "# How the raw rows become the reference (training) rows and the current batch, written",
        f"# by `kedro cirrus init-contract` for {config.source}.",
        "ingestion:",
        "  split:",
    ]
    split = config.split
    lines.append(
        _with_comment(
            f"    mode: {split['mode']}",
            "files | event_time | fraction",
        )
    )
    for key in ("current_from", "current_share", "seed"):
        if key in split:
            comment = notes["split"] if key in ("current_from", "current_share") else None
            lines.append(_with_comment(f"    {key}: {_scalar(split[key])}", comment))
    return "\n".join(lines) + "\n"


def render_features(config: InferredConfig) -> str:
    """conf/base/parameters_features.yml: hold-out and the transforms that fit this data."""
    holdout, features = config.holdout, config.features
    categorical = features["categorical"]
    return "\n".join(
        [
            "# Held-out test rows are carved from the reference rows before anything is fitted.",
            "holdout:",
            _with_comment(
                f"  strategy: {holdout['strategy']}",
                "stratified | random | time (latest rows are the test rows)",
                30,
            ),
            f"  test_size: {holdout['test_size']}",
            f"  seed: {holdout['seed']}",
            "",
            "# Declared transforms, all learned on training rows only and saved to",
            f"# data/04_feature. Written by `kedro cirrus init-contract` for {config.source}.",
            "features:",
            _with_comment("  log: []", "log1p of numeric features, e.g. [income]", 30),
            _with_comment("  ratios: {}", "name: [numerator, denominator]", 30),
            _with_comment(
                f"  date_parts: {_flow(features['date_parts'])}",
                f"of the datetime features: {config.comments['date_parts']}",
                30,
            ),
            _with_comment(
                "  missing_indicators: auto",
                "auto (numeric columns with nulls in training) | none | [columns]",
                30,
            ),
            "  categorical:",
            _with_comment(
                f"    min_frequency: {categorical['min_frequency']}",
                "rarer training levels become __other__ (1% of the rows, at most 20)",
                30,
            ),
            f"    max_levels: {categorical['max_levels']}",
            "",
        ]
    )


_THRESHOLD_LINE = re.compile(
    r"^(?P<key>[ \t]+threshold:[ \t]*)(?P<value>[^#\n]*?)(?P<rest>[ \t]*#.*)?$"
)


def render_evaluation(current: str, task: str) -> str:
    """conf/base/parameters_evaluation.yml with `threshold: auto` for a binary task (the
    threshold threshold_rule picks on validation rows: 0.5 suits balanced classes only), every
    other line kept; unchanged for other tasks, which have no threshold."""
    if task != "binary":
        return current
    lines = current.splitlines()
    top = next((i for i, line in enumerate(lines) if line.startswith("evaluation:")), None)
    if top is None:
        return (
            current.rstrip("\n")
            + ("\n" if current.strip() else "")
            + ("evaluation:\n  threshold: auto   # written by `kedro cirrus init-contract`\n")
        )
    end = next(
        (i for i in range(top + 1, len(lines)) if lines[i][:1] not in ("", " ", "\t", "#")),
        len(lines),
    )
    for index in range(top + 1, end):
        found = _THRESHOLD_LINE.match(lines[index])
        if found and len(found["key"]) - len(found["key"].lstrip()) == 2:
            rest = found["rest"] or ""
            # The comment stays where it was (one space at least).
            spaces = len(rest) - len(rest.lstrip()) - (len("auto") - len(found["value"]))
            comment = " " * max(1, spaces) + rest.lstrip() if rest else ""
            lines[index] = found["key"] + "auto" + comment
            return "\n".join(lines) + "\n"
    lines.insert(top + 1, "  threshold: auto")
    return "\n".join(lines) + "\n"


def _entry(dataset_type: str, filepath: str) -> dict[str, Any]:
    """A raw catalog entry."""
    return {
        "type": dataset_type,
        "filepath": filepath,
        "credentials": "storage",
        "metadata": {"kedro-viz": {"layer": "raw"}},
    }


def _render_entry(name: str, entry: dict[str, Any]) -> list[str]:
    """A catalog entry as block YAML lines."""
    return [
        f"{name}:",
        f"  type: {entry['type']}",
        f"  filepath: {_scalar(entry['filepath'])}",
        f"  credentials: {entry['credentials']}",
        "  metadata: {kedro-viz: {layer: raw}}",
    ]


def _top_level_blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Line spans [start, end) of each top-level key, comments directly above included
    (section headers `# ---` excepted), trailing blank lines and comments excluded."""
    starts = [i for i, line in enumerate(lines) if line[:1] not in ("", " ", "\t", "#")]
    spans = {}
    for n, start in enumerate(starts):
        key = lines[start].split(":", 1)[0].strip().strip("'\"")
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        first = start
        while first > 0 and lines[first - 1].startswith("#") and "---" not in lines[first - 1]:
            first -= 1
        spans[key] = (first, end)
    return spans


def _key_line(lines: list[str], name: str, span: tuple[int, int]) -> int:
    """The line of a top-level key within its span (below the comments attached to it)."""
    for index in range(span[0], span[1]):
        if lines[index].split(":", 1)[0].strip().strip("'\"") == name:
            return index
    return span[0]


def render_catalog(current: str, dataset_type: str, filepath: str, source: str) -> str:
    """conf/base/catalog.yml with its raw entries pointed at the file, the rest untouched."""
    lines = current.splitlines()
    spans = _top_level_blocks(lines)
    new = [
        f"# Written by `kedro cirrus init-contract`: both raw entries read {source};",
        "# ingestion.split in conf/base/parameters_ingestion.yml makes the current batch.",
    ]
    for name in RAW_DATASETS:
        new += [*_render_entry(name, _entry(dataset_type, filepath)), ""]
    new.pop()
    before = yaml.safe_load(current) or {}
    same_type = all(
        isinstance(before.get(name), dict) and before[name].get("type") == dataset_type
        for name in RAW_DATASETS
    )
    if same_type:  # the comments above the entries still describe them
        spans = {name: (_key_line(lines, name, span), span[1]) for name, span in spans.items()}
        new = new[2:]
    present = sorted((spans[name] for name in RAW_DATASETS if name in spans), reverse=True)
    if present:
        insert_at = present[-1][0]
        for first, end in present:
            del lines[first:end]
            # One blank line where an entry was, not two.
            while 0 < first < len(lines) and not (lines[first].strip() or lines[first - 1].strip()):
                del lines[first]
    else:
        insert_at = 0
        while insert_at < len(lines) and lines[insert_at].startswith("#"):
            insert_at += 1
        new = ["", *new, ""] if lines else new
    lines[insert_at:insert_at] = new
    text = _point_inference_entry(lines, _entry(dataset_type, filepath))
    after = yaml.safe_load(text) or {}
    written = (*RAW_DATASETS, RAW_INFERENCE)
    kept = {k: v for k, v in before.items() if k not in written}
    if {k: v for k, v in after.items() if k not in written} != kept:
        raise ContractInferenceError(
            f"Could not rewrite the raw entries of {CATALOG_FILE} without changing other "
            "entries; point raw_reference, raw_current and raw_inference at the file by hand."
        )
    return text


def _point_inference_entry(lines: list[str], entry: dict[str, Any]) -> str:
    """The catalog text with raw_inference replaced in place (the comments above it kept), or
    added after the raw entries when the catalog has none."""
    spans = _top_level_blocks(lines)
    rendered = _render_entry(RAW_INFERENCE, entry)
    if RAW_INFERENCE in spans:
        span = spans[RAW_INFERENCE]
        lines[_key_line(lines, RAW_INFERENCE, span) : span[1]] = rendered
    else:
        after = max(spans[name][1] for name in RAW_DATASETS)
        lines[after:after] = ["", *rendered]
    return "\n".join(lines) + "\n"


def check_round_trip(text: str, expected: dict[str, Any], file: str) -> None:
    """The rendered YAML reads back as the intended blocks (quoting and layout are right)."""
    loaded = yaml.safe_load(text)
    if loaded != json.loads(json.dumps(expected)):
        raise ContractInferenceError(
            f"Rendering {file} went wrong: it does not read back as the inferred values."
        )


def dataset_type(file_type: str, catalog_text: str) -> str:
    """The raw entries' dataset type: Parquet, or the CSV type the catalog already uses."""
    if file_type == PARQUET:
        return PARQUET_DATASET
    current = (yaml.safe_load(catalog_text) or {}).get(RAW_DATASETS[0], {})
    declared = str(current.get("type", "")) if isinstance(current, dict) else ""
    return declared if declared.endswith("CSVDataset") else CSV_DATASET
