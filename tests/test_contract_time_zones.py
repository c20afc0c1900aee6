"""Time zones end to end: zone-aware and naive input validate to one dtype in the contract's zone,
the event-time split compares in that zone, a column mixing both kinds is refused, and
init-contract checks the file with ingestion's own nodes before writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cirrus.contract import ContractError, DataContractViolation, DatasetContract
from cirrus.contract_inference import (
    ContractInferenceError,
    check_configuration,
    infer_configuration,
    read_table,
)
from cirrus.parameters import IngestionSplit
from cirrus.pipelines.ingestion.nodes import (
    split_reference_current,
    validate_raw_current,
    validate_raw_reference,
)
from cirrus.validation import time_in_zone, validate_raw

HOURS = 48


def _contract(time_zone: str = "UTC", **overrides) -> DatasetContract:
    """A small binary contract with an event time that is also a datetime feature."""
    return DatasetContract(
        name="trips",
        event_time_column="departed",
        time_zone=time_zone,
        target="late",
        task="binary",
        features={"numeric": ["distance"], "datetime": ["departed"]},
        **overrides,
    )


def _trips(times: list[str] | pd.Series) -> pd.DataFrame:
    """Rows with the given departure times, a distance and a 0/1 target."""
    n = len(times)
    return pd.DataFrame(
        {"departed": times, "distance": np.linspace(1, 100, n), "late": [0, 1] * (n // 2)}
    )


def _hourly_utc_text(suffix: str = "Z") -> list[str]:
    """HOURS hourly times from 2013-01-01 00:00 UTC as ISO text with an offset suffix."""
    stamps = pd.date_range("2013-01-01", periods=HOURS, freq="h")
    return [f"{stamp:%Y-%m-%dT%H:%M:%S}{suffix}" for stamp in stamps]


def _validate_and_split(
    raw: pd.DataFrame, contract: DatasetContract, current_from: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The validated table, then the reference and current rows of an event-time split."""
    validated = validate_raw_reference(raw, contract, None)
    current = validate_raw_current(raw, contract, None)
    split = IngestionSplit(mode="event_time", current_from=current_from)
    ref, cur = split_reference_current(validated, current, contract, split)
    return validated, ref, cur


# --- validation: one dtype in the declared zone --------------------------------------------------


def test_a_z_suffixed_csv_time_validates_and_splits_with_an_offset_cut(tmp_path: Path):
    # Arrange: what init-contract wrote for such a file (the old code: TypeError, tz-naive and
    # tz-aware, in the split)
    path = tmp_path / "trips.csv"
    _trips(_hourly_utc_text("Z")).to_csv(path, index=False)
    raw = pd.read_csv(path)

    # Act
    validated, ref, cur = _validate_and_split(raw, _contract(), "2013-01-02 12:00:00+00:00")

    # Assert
    assert validated["departed"].dtype == "datetime64[ns]"
    assert validated["departed"].iloc[0] == pd.Timestamp("2013-01-01 00:00")
    assert (len(ref), len(cur)) == (36, 12)
    assert cur["departed"].min() == pd.Timestamp("2013-01-02 12:00")


def test_a_parquet_utc_column_validates_and_splits(tmp_path: Path):
    # Arrange
    path = tmp_path / "trips.parquet"
    times = pd.date_range("2013-01-01", periods=HOURS, freq="h", tz="UTC")
    _trips(pd.Series(times)).to_parquet(path, index=False)
    raw = pd.read_parquet(path)
    assert str(raw["departed"].dtype).endswith(", UTC]")

    # Act
    validated, ref, cur = _validate_and_split(raw, _contract(), "2013-01-02 12:00")

    # Assert
    assert validated["departed"].dtype == "datetime64[ns]"
    assert (len(ref), len(cur)) == (36, 12)


def test_aware_times_are_converted_to_the_declared_zone_and_naive_ones_read_in_it():
    # Arrange: 10:00 UTC, 11:00 at +02:00 (09:00 UTC) and a Parquet column in New York time
    contract = _contract("Europe/Paris")
    text = _trips(["2013-07-01T10:00:00Z", "2013-07-01T11:00:00+02:00"])
    naive = _trips(["2013-07-01 10:00", "2013-07-01 11:00"])
    new_york = _trips(
        pd.Series(pd.to_datetime(["2013-07-01 06:00", "2013-07-01 07:00"])).dt.tz_localize(
            "America/New_York"
        )
    )

    # Act
    from_text = validate_raw(text, contract, "raw_reference")["departed"]
    from_naive = validate_raw(naive, contract, "raw_reference")["departed"]
    from_new_york = validate_raw(new_york, contract, "raw_reference")["departed"]

    # Assert: Paris is UTC+2 in July; naive times are taken as Paris times already
    assert from_text.tolist() == [
        pd.Timestamp("2013-07-01 12:00"),
        pd.Timestamp("2013-07-01 11:00"),
    ]
    assert from_naive.tolist() == [
        pd.Timestamp("2013-07-01 10:00"),
        pd.Timestamp("2013-07-01 11:00"),
    ]
    assert from_new_york.tolist() == [
        pd.Timestamp("2013-07-01 12:00"),
        pd.Timestamp("2013-07-01 13:00"),
    ]
    assert {s.dtype for s in (from_text, from_naive, from_new_york)} == {np.dtype("M8[ns]")}


def test_a_strptime_format_with_an_offset_is_converted():
    # Arrange
    contract = _contract(columns={"departed": {"format": "%d/%m/%Y %H:%M %z"}})
    raw = _trips(["01/07/2013 12:00 +0200", "01/07/2013 12:00 +0000"])

    # Act
    times = validate_raw(raw, contract, "raw_reference")["departed"]

    # Assert
    assert times.tolist() == [pd.Timestamp("2013-07-01 10:00"), pd.Timestamp("2013-07-01 12:00")]


def test_a_column_mixing_aware_and_naive_times_is_refused_naming_column_and_rows():
    # Arrange: two of six times lack an offset (the old code read them as UTC silently)
    times = _hourly_utc_text("Z")[:6]
    times[2] = "2013-01-01 02:00:00"
    times[5] = "2013-01-01 05:00:00"
    raw = _trips(times)

    # Act
    with pytest.raises(DataContractViolation) as excinfo:
        validate_raw(raw, _contract(), "raw_reference")

    # Assert
    message = str(excinfo.value)
    assert "Dataset 'raw_reference'" in message
    assert "column 'departed' mixes times with a UTC offset" in message
    assert "2 of 6 value(s) without one, rows [2, 5]" in message
    assert "'2013-01-01 02:00:00'" in message


def test_an_unknown_time_zone_is_refused_naming_the_key():
    # Act
    with pytest.raises(ContractError) as excinfo:
        _contract("Mars/Olympus_Mons")

    # Assert
    assert "contract.time_zone" in str(excinfo.value)
    assert "not a known IANA time zone" in str(excinfo.value)


# --- the cut: with or without an offset ----------------------------------------------------------


@pytest.mark.parametrize(
    ("current_from", "n_current"),
    [
        ("2013-01-02 12:00", 12),  # read in the declared zone (UTC)
        ("2013-01-02T12:00:00Z", 12),
        ("2013-01-02T14:00:00+02:00", 12),  # the same instant
        ("2013-01-02T12:00:00-02:00", 10),  # 14:00 UTC
    ],
)
def test_current_from_compares_in_the_declared_zone_with_or_without_offset(
    current_from: str, n_current: int
):
    # Arrange
    raw = _trips(_hourly_utc_text("Z"))

    # Act
    _, _, cur = _validate_and_split(raw, _contract(), current_from)

    # Assert
    assert len(cur) == n_current


def test_a_naive_cut_is_read_in_a_non_utc_zone():
    # Arrange: times written in UTC, the contract in Tokyo (UTC+9)
    raw = _trips(_hourly_utc_text("Z"))

    # Act: 2013-01-02 21:00 in Tokyo is 12:00 UTC
    _, _, cur = _validate_and_split(raw, _contract("Asia/Tokyo"), "2013-01-02 21:00")

    # Assert
    assert len(cur) == 12
    assert time_in_zone("2013-01-02T12:00:00Z", "Asia/Tokyo") == pd.Timestamp("2013-01-02 21:00")


# --- init-contract checks the file as a run would -----------------------------------------------


def test_init_contract_on_a_z_suffixed_file_writes_a_cut_in_the_declared_zone(tmp_path: Path):
    # Arrange
    path = tmp_path / "trips.csv"
    _trips(_hourly_utc_text("Z")).to_csv(path, index=False)
    frame, file_type = read_table(str(path))

    # Act
    config = infer_configuration(frame, str(path), file_type, "late")
    check_configuration(config, frame)  # the old code wrote '...+00:00' and the run failed

    # Assert
    assert config.contract["time_zone"] == "UTC"
    assert config.split["mode"] == "event_time"
    assert "+" not in config.split["current_from"]
    assert pd.Timestamp(config.split["current_from"]).tzinfo is None


def test_init_contract_reports_a_run_failing_validation_before_writing(tmp_path: Path):
    # Arrange: a time column mixing zone-aware and naive times
    times = _hourly_utc_text("Z")
    times[7] = "2013-01-01 07:00:00"
    frame = _trips(times)

    # Act
    config = infer_configuration(frame, "trips.csv", "csv", "late")
    with pytest.raises(ContractInferenceError) as excinfo:
        check_configuration(config, frame)

    # Assert
    message = str(excinfo.value)
    assert "does not validate trips.csv as `kedro run` would" in message
    assert "column 'departed' mixes times" in message and "rows [7]" in message


def test_init_contract_reports_a_split_that_would_fail_before_writing():
    # Arrange: an event time whose cut leaves one class only in the reference rows
    frame = _trips(_hourly_utc_text("Z"))
    frame["late"] = [0] * 38 + [1] * 10
    config = infer_configuration(frame, "trips.csv", "csv", "late")

    # Act
    with pytest.raises(ContractInferenceError) as excinfo:
        check_configuration(config, frame)

    # Assert
    assert "Target 'late' in the reference rows has 1 class(es)" in str(excinfo.value)


def test_init_contract_writes_the_cut_in_a_declared_zone():
    # Arrange: times in UTC; the team works in Paris time (UTC+1 in January)
    frame = _trips(_hourly_utc_text("Z"))

    # Act
    utc = infer_configuration(frame, "trips.csv", "csv", "late")
    paris = infer_configuration(frame, "trips.csv", "csv", "late", time_zone="Europe/Paris")
    check_configuration(paris, frame)

    # Assert: the same instant, written as each zone's wall-clock time
    assert paris.contract["time_zone"] == "Europe/Paris"
    utc_cut, paris_cut = (pd.Timestamp(c.split["current_from"]) for c in (utc, paris))
    assert paris_cut - utc_cut == pd.Timedelta(hours=1)
    with pytest.raises(ContractInferenceError, match="--time-zone 'Paris' is not a known"):
        infer_configuration(frame, "trips.csv", "csv", "late", time_zone="Paris")


def test_an_api_request_time_is_brought_to_the_declared_zone():
    # Arrange
    from pydantic import TypeAdapter

    from cirrus.contract import ColumnRule
    from cirrus.serving.schema import value_type

    paris = TypeAdapter(value_type(ColumnRule(dtype="datetime"), "Europe/Paris"))

    # Act / Assert: an offset is converted (UTC+2 in July), a naive time is taken as Paris time
    assert paris.validate_python("2013-07-01T10:00:00Z") == pd.Timestamp("2013-07-01 12:00")
    assert paris.validate_python("2013-07-01T10:00:00") == pd.Timestamp("2013-07-01 10:00")


def test_init_contract_changes_no_file_when_the_run_would_fail(tmp_path: Path):
    # Arrange: a project's conf and a file whose time column mixes aware and naive times
    import shutil

    from cirrus.contract_inference import write_configuration

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "conf" / "base", tmp_path / "conf" / "base")
    (tmp_path / "conf" / "local").mkdir()
    times = _hourly_utc_text("Z")
    times[3] = "2013-01-01 03:00:00"
    _trips(times).to_csv(tmp_path / "trips.csv", index=False)
    before = {p: p.read_bytes() for p in (tmp_path / "conf").rglob("*") if p.is_file()}

    # Act
    with pytest.raises(ContractInferenceError) as excinfo:
        write_configuration(tmp_path, str(tmp_path / "trips.csv"), "late", force=True)

    # Assert
    assert "column 'departed' mixes times" in str(excinfo.value)
    after = {p: p.read_bytes() for p in (tmp_path / "conf").rglob("*") if p.is_file()}
    assert after == before
