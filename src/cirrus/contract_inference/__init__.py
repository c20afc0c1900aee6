"""A working configuration inferred from a data file: `kedro cirrus init-contract`.

Types, nullability and observed ranges come from pandera's own schema inference
(`pandera.pandas.infer_schema`), run on the table as ingestion reads it (text that is entirely
ISO 8601, or one strptime format, parsed to times first). On top of what pandera infers, this
module decides what pandera does not: the task and the positive class, each column's role (by
dtype and cardinality), allowed values of low-cardinality columns, and which columns to leave
out (id-like, constant, free text or near-unique text, likely PII by name or content, names
LightGBM refuses). Every decision a person should check gets a `review:` comment in the YAML
and a line on the console.

One module per step: `read` (the file, as ingestion reads it), `profile` (what each column's
name and values suggest, and pandera's inference), `decide` (the roles, task, split and
transforms, as typed models: the contract is a `DatasetContract`), `render` (the YAML, with a
comment on each decision) and `write` (checked, then written together).

What it writes (`write_configuration`): the `contract` block
(`conf/base/parameters_contract.yml`), the `ingestion.split` block
(`conf/base/parameters_ingestion.yml`), the hold-out and feature transforms
(`conf/base/parameters_features.yml`), `threshold: auto` for a binary task
(`conf/base/parameters_evaluation.yml`, its other lines kept), and the `raw_reference`,
`raw_current` and `raw_inference` entries of `conf/base/catalog.yml`, all pointed at the file
(the rest of the catalog is kept as it is). Everything is checked (the blocks parse,
ingestion's validation and split nodes run on the file as `kedro run` would) before anything
is written; files are written to temporary names and moved into place together, and put back
if a move fails, so an error changes nothing.
"""

from __future__ import annotations

import os  # noqa: F401  (writing moves files with os.replace; tests make a move fail there)

from cirrus.contract_inference.decide import check_configuration, infer_configuration
from cirrus.contract_inference.outcome import (
    ContractInferenceError,
    InferredConfig,
    LeftOut,
    contract_block,
    rule_block,
)
from cirrus.contract_inference.profile import infer_column_schemas, parse_times
from cirrus.contract_inference.read import file_type_of, read_table
from cirrus.contract_inference.render import (
    CATALOG_FILE,
    CSV_DATASET,
    PARQUET_DATASET,
    render_catalog,
    render_contract,
    render_evaluation,
    render_features,
    render_ingestion,
)
from cirrus.contract_inference.write import Written, catalog_filepath, write_configuration
from cirrus.parameters import CONTRACT_FILE, FEATURES_FILE, INGESTION_FILE

__all__ = [
    "CATALOG_FILE",
    "CONTRACT_FILE",
    "CSV_DATASET",
    "FEATURES_FILE",
    "INGESTION_FILE",
    "PARQUET_DATASET",
    "ContractInferenceError",
    "InferredConfig",
    "LeftOut",
    "Written",
    "catalog_filepath",
    "check_configuration",
    "contract_block",
    "file_type_of",
    "infer_column_schemas",
    "infer_configuration",
    "parse_times",
    "read_table",
    "render_catalog",
    "render_contract",
    "render_evaluation",
    "render_features",
    "render_ingestion",
    "rule_block",
    "write_configuration",
]
