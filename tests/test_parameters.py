"""Tests of the strict parameter blocks and their error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from cirrus.contract import ContractError, DatasetContract
from cirrus.parameters import (
    Block,
    ConfigError,
    DemoDataParams,
    DriftParams,
    EvaluationParams,
    FeatureParams,
    HoldoutParams,
    IngestionSplit,
    RegistryParams,
    SearchRange,
    TrainingParams,
    block_locations,
    moved_block_warnings,
    parameters_file,
    parse_block,
)
from tests import unit_fixtures as fx

TRAINING_FILE = "conf/base/parameters_training.yml"
EVALUATION_FILE = "conf/base/parameters_evaluation.yml"
DRIFT_FILE = "conf/base/parameters_drift.yml"
DEMO_DATA_FILE = "conf/base/parameters_demo_data.yml"

# Every top-level block: its model, where it sits in the YAML, and the file it is declared in.
BLOCKS = [
    (DatasetContract, ("contract",), "contract"),
    (IngestionSplit, ("ingestion", "split"), "ingestion"),
    (HoldoutParams, ("holdout",), "features"),
    (FeatureParams, ("features",), "features"),
    (TrainingParams, ("training",), "training"),
    (EvaluationParams, ("evaluation",), "evaluation"),
    (DriftParams, ("drift",), "drift"),
    (RegistryParams, ("registry",), "registry"),
    (DemoDataParams, ("demo_data",), "demo_data"),
]
BLOCK_IDS = [".".join(path) for _, path, _ in BLOCKS]


def _committed(file: str, path: tuple[str, ...]) -> dict[str, Any]:
    """A deep copy of a committed block of conf/base/parameters_<file>.yml."""
    block = fx.load_parameters(file)
    for key in path:
        block = block[key]
    return block


def _refusal(model: type[Block], raw: Any) -> str:
    """The message of the ConfigError that parsing `raw` into `model` must raise."""
    with pytest.raises(ConfigError) as excinfo:
        model.parse(raw)
    return str(excinfo.value)


# --- committed blocks -------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "path", "file"), BLOCKS, ids=BLOCK_IDS)
def test_committed_parameter_blocks_parse(model: type[Block], path: tuple[str, ...], file: str):
    # Arrange
    block = _committed(file, path)

    # Act
    parsed = model.parse(block)

    # Assert
    assert isinstance(parsed, model)
    assert parsed.model_dump(exclude_unset=True).keys() == block.keys()
    assert model.block_key == ".".join(path)
    assert model.block_file == f"conf/base/parameters_{file}.yml"


# --- unknown keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "path", "file", "typo"),
    [
        (*block, typo)
        for block, typo in zip(
            BLOCKS,
            [
                "targett",
                "current_form",
                "test_sise",
                "ratio",
                "num_boost_rounds",
                "treshold",
                "drift_shar",
                "min_improvment",
                "sede",
            ],
            strict=True,
        )
    ],
    ids=BLOCK_IDS,
)
def test_unknown_key_of_every_block_names_file_and_dotted_key(
    model: type[Block], path: tuple[str, ...], file: str, typo: str
):
    # Arrange
    raw = {**_committed(file, path), typo: 1}

    # Act
    message = _refusal(model, raw)

    # Assert
    assert f"conf/base/parameters_{file}.yml" in message
    assert f"unknown key '{'.'.join(path)}.{typo}'" in message


def test_unknown_key_names_file_and_key():
    # Arrange
    raw = {**fx.load_parameters("training")["training"], "num_boost_rounds": 10}

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert "unknown key 'training.num_boost_rounds'" in message


def test_nested_unknown_key_names_the_dotted_path():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["tuning"]["search_space"]["num_leaves"]["kindd"] = "int"

    # Act / Assert
    with pytest.raises(ConfigError, match=r"training\.tuning\.search_space\.num_leaves\.kindd"):
        TrainingParams.parse(raw)


# --- values -----------------------------------------------------------------------------------


def test_wrong_type_names_file_and_key():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["num_boost_round"] = "many"

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert "'training.num_boost_round'" in message
    assert "integer" in message


def test_out_of_range_value_names_the_key():
    # Arrange
    raw = fx.load_parameters("features")["holdout"]
    raw["test_size"] = 1.5

    # Act / Assert
    with pytest.raises(ConfigError, match=r"'holdout\.test_size'"):
        HoldoutParams.parse(raw)


def test_list_item_error_names_the_index():
    # Arrange
    raw = fx.load_parameters("features")["features"]
    raw["date_parts"] = ["month", "week"]

    # Act / Assert
    with pytest.raises(ConfigError, match=r"'features\.date_parts\.1'"):
        FeatureParams.parse(raw)


def test_every_problem_is_reported_at_once():
    # Arrange
    raw = {"num_boost_round": 0, "seeed": 1}

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert "'training.num_boost_round'" in message
    assert "unknown key 'training.seeed'" in message


def test_missing_block_names_file_and_key():
    # Act / Assert
    with pytest.raises(ConfigError, match="Missing parameters block 'training'") as excinfo:
        TrainingParams.parse(None)
    assert TRAINING_FILE in str(excinfo.value)


def test_empty_block_takes_every_default():
    # Act
    parsed = TrainingParams.parse({})

    # Assert
    assert parsed == TrainingParams()
    assert parsed.tuning.enabled is False


def test_missing_required_key_of_a_non_block_model_is_named():
    # Arrange
    raw = {"low": 0.01}

    # Act / Assert
    with pytest.raises(ConfigError) as excinfo:
        parse_block(SearchRange, raw, "training.tuning.search_space.learning_rate", TRAINING_FILE)
    assert "missing required key 'training.tuning.search_space.learning_rate.high'" in str(
        excinfo.value
    )


def test_custom_error_class_is_raised():
    # Act / Assert
    with pytest.raises(ContractError, match=r"unknown key 'x\.kindd'"):
        parse_block(SearchRange, {"low": 0, "high": 1, "kindd": "int"}, "x", "f.yml", ContractError)


def test_config_error_is_not_a_value_error():
    # Assert: a ValueError raised in a validator would become one more pydantic error
    assert not issubclass(ConfigError, ValueError)


def test_parsed_blocks_are_frozen():
    # Arrange
    parsed = DriftParams.parse({})

    # Act / Assert
    with pytest.raises(pydantic.ValidationError):
        parsed.drift_share = 0.9


# --- training: LightGBM parameters ------------------------------------------------------------


def test_misspelt_lightgbm_parameter_is_refused_with_a_suggestion():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["num_leafs"] = raw["lgbm_params"].pop("num_leaves")

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert "'training.lgbm_params'" in message
    assert "unknown key 'num_leafs': not a LightGBM parameter or alias" in message
    assert "did you mean 'num_leaves'?" in message


def test_lightgbm_alias_is_accepted():
    # Arrange: num_leaf is LightGBM's own alias of num_leaves
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["num_leaf"] = raw["lgbm_params"].pop("num_leaves")

    # Act
    parsed = TrainingParams.parse(raw)

    # Assert
    assert parsed.lgbm_params["num_leaf"] == 31


def test_lightgbm_parameter_of_the_wrong_type_is_refused():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["num_leaves"] = "many"

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert "'training.lgbm_params'" in message
    assert "'num_leaves: 'many'' is refused by LightGBM" in message


def test_unknown_search_space_parameter_is_refused():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["tuning"]["search_space"]["num_leafs"] = {"low": 15, "high": 127, "kind": "int"}

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert "'training.tuning.search_space'" in message
    assert "unknown key 'num_leafs'" in message
    assert "did you mean 'num_leaves'?" in message


# --- training and evaluation: settings that accept auto ---------------------------------------


def test_committed_training_block_scales_its_row_dependent_settings():
    # Act
    parsed = TrainingParams.parse(fx.load_parameters("training")["training"])

    # Assert
    assert parsed.validation_fraction == "auto"
    assert parsed.lgbm_params["min_data_in_leaf"] == "auto"


@pytest.mark.parametrize("name", ["min_data_in_leaf", "min_child_samples"])
def test_row_scaled_lightgbm_setting_accepts_auto_under_its_name_or_alias(name: str):
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"].pop("min_data_in_leaf")
    raw["lgbm_params"][name] = "auto"

    # Act
    parsed = TrainingParams.parse(raw)

    # Assert
    assert parsed.lgbm_params[name] == "auto"


@pytest.mark.parametrize(("value", "expected"), [(30, 30), (0, 0)])
def test_row_scaled_lightgbm_setting_accepts_a_number(value: int, expected: int):
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["min_data_in_leaf"] = value

    # Act
    parsed = TrainingParams.parse(raw)

    # Assert
    assert parsed.lgbm_params["min_data_in_leaf"] == expected


@pytest.mark.parametrize("value", ["lots", 2.5, -1])
def test_bad_min_data_in_leaf_names_file_key_and_auto(value: Any):
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["min_data_in_leaf"] = value

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert "'training.lgbm_params'" in message
    assert f"'min_data_in_leaf: {value!r}' is refused by LightGBM" in message
    assert "use auto, scaled from the fitting rows, or a whole number" in message


def test_auto_is_refused_for_a_lightgbm_setting_that_does_not_scale():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["num_leaves"] = "auto"

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert "'num_leaves: 'auto'' is refused by LightGBM" in message
    assert "use auto" not in message


def test_row_scaled_setting_declared_twice_is_refused():
    # Arrange
    raw = fx.load_parameters("training")["training"]
    raw["lgbm_params"]["min_child_samples"] = 10

    # Act
    message = _refusal(TrainingParams, raw)

    # Assert
    assert TRAINING_FILE in message
    assert (
        "lgbm_params sets min_data_in_leaf 2 times: ['min_data_in_leaf', 'min_child_samples']"
        in (message)
    )


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), (0.3, 0.3), ("0.25", 0.25)])
def test_validation_fraction_accepts_auto_or_a_share(value: Any, expected: Any):
    # Act
    parsed = TrainingParams.parse({"validation_fraction": value})

    # Assert
    assert parsed.validation_fraction == expected


@pytest.mark.parametrize("value", ["lots", 1.5, 0, True, None])
def test_bad_validation_fraction_names_file_and_key(value: Any):
    # Act
    message = _refusal(TrainingParams, {"validation_fraction": value})

    # Assert
    assert TRAINING_FILE in message
    assert f"'training.validation_fraction': {value!r} is neither auto nor a number between 0" in (
        message
    )


def test_evaluation_threshold_accepts_auto_with_a_rule():
    # Act
    parsed = EvaluationParams.parse({"threshold": "auto", "threshold_rule": "youden"})

    # Assert
    assert (parsed.threshold, parsed.threshold_rule) == ("auto", "youden")
    assert EvaluationParams.parse({}).threshold == 0.5
    assert EvaluationParams.parse({}).threshold_rule == "best_f1"


@pytest.mark.parametrize("value", ["lots", 1.0, -0.2])
def test_bad_evaluation_threshold_names_file_and_key(value: Any):
    # Act
    message = _refusal(EvaluationParams, {"threshold": value})

    # Assert
    assert EVALUATION_FILE in message
    assert f"'evaluation.threshold': {value!r} is neither auto nor a number between 0" in message


def test_unknown_threshold_rule_names_the_rules():
    # Act
    message = _refusal(EvaluationParams, {"threshold": "auto", "threshold_rule": "best_f2"})

    # Assert
    assert EVALUATION_FILE in message
    assert "'evaluation.threshold_rule'" in message
    assert "'best_f1' or 'youden'" in message


# --- evaluation: quality gate -----------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    ["rocauc", "r2"],  # a typo, and a metric of another task
)
def test_quality_gate_metric_the_task_does_not_compute_is_refused(metric: str):
    # Arrange
    raw = fx.load_parameters("evaluation")["evaluation"]
    raw["quality_gate"] = {"binary": {metric: {"min": 0.7}}}

    # Act
    message = _refusal(EvaluationParams, raw)

    # Assert
    assert EVALUATION_FILE in message
    assert "'evaluation.quality_gate'" in message
    assert f"'binary.{metric}' is not a binary metric" in message


def test_quality_gate_of_an_unknown_task_is_refused():
    # Arrange
    raw = {"quality_gate": {"binery": {"roc_auc": {"min": 0.7}}}}

    # Act
    message = _refusal(EvaluationParams, raw)

    # Assert
    assert EVALUATION_FILE in message
    assert "'evaluation.quality_gate.binery" in message


# --- drift: methods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"num_method": "wasserstien"},
        {"cat_method": "wasserstien"},
        {"per_column_method": {"age": "wasserstien"}},
    ],
    ids=["num_method", "cat_method", "per_column_method"],
)
def test_unknown_drift_method_is_refused(change: dict[str, Any]):
    # Arrange
    raw = {**fx.load_parameters("drift")["drift"], **change}

    # Act
    message = _refusal(DriftParams, raw)

    # Assert
    assert DRIFT_FILE in message
    assert "'drift'" in message
    assert "unknown drift method(s) ['wasserstien']" in message


def test_drift_methods_known_to_evidently_are_accepted():
    # Arrange
    raw = {
        **fx.load_parameters("drift")["drift"],
        "num_method": "wasserstein",
        "cat_method": "jensenshannon",
        "per_column_method": {"age": "psi"},
    }

    # Act
    parsed = DriftParams.parse(raw)

    # Assert
    assert (parsed.num_method, parsed.cat_method) == ("wasserstein", "jensenshannon")
    assert parsed.per_column_method == {"age": "psi"}


# --- demo_data --------------------------------------------------------------------------------


def test_demo_data_row_count_of_the_wrong_type_is_refused():
    # Arrange
    raw = fx.load_parameters("demo_data")["demo_data"]
    raw["reference"]["n_rows"] = "many"

    # Act
    message = _refusal(DemoDataParams, raw)

    # Assert
    assert DEMO_DATA_FILE in message
    assert "'demo_data.reference.n_rows'" in message
    assert "integer" in message


def test_misspelt_demo_data_batch_key_is_refused():
    # Arrange
    raw = fx.load_parameters("demo_data")["demo_data"]
    raw["current"]["concept_drfit"] = raw["current"].pop("concept_drift")

    # Act
    message = _refusal(DemoDataParams, raw)

    # Assert
    assert DEMO_DATA_FILE in message
    assert "unknown key 'demo_data.current.concept_drfit'" in message


# --- which file holds a block -----------------------------------------------------------------


def test_every_committed_block_is_in_the_file_the_one_definition_names():
    # Act
    found = block_locations(fx.REPO / "conf" / "base")

    # Assert
    assert found == {key: parameters_file(key) for key in found}
    assert parameters_file("contract") == "conf/base/parameters_contract.yml"
    assert parameters_file("ingestion.split") == "conf/base/parameters_ingestion.yml"
    assert parameters_file("extras") == "conf/base/parameters*.yml"
    assert moved_block_warnings(fx.REPO / "conf" / "base") == []


def test_a_contract_still_in_parameters_ingestion_is_warned_about(tmp_path: Path):
    # Arrange: the layout before the contract had its own file
    conf = tmp_path / "conf" / "base"
    conf.mkdir(parents=True)
    (conf / "parameters_ingestion.yml").write_text(
        "contract: {name: x}\ningestion: {split: {mode: files}}\n"
    )

    # Act
    warnings = moved_block_warnings(conf)

    # Assert
    assert warnings == [
        "The 'contract:' block is in conf/base/parameters_ingestion.yml: move it, unchanged, to "
        "its own file conf/base/parameters_contract.yml. It is still read from "
        "conf/base/parameters_ingestion.yml for now; a later version will read it only from "
        "its own file."
    ]
