"""`kedro cirrus cost`: the committed price table, instance choice, billing, scaling, the
recommendation, and the command end to end on constructed run records."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cirrus.cli import ReadableErrorsGroup
from cirrus.cost.command import cost
from cirrus.cost.model import (
    GIB,
    NO_SPOT,
    CostError,
    CostReport,
    Usage,
    build_report,
    cheapest,
    run_cost,
    runs_per_month,
    scaled_usage,
    stale_warning,
    step_cost,
)
from cirrus.cost.prices import CLOUDS, InstancePrice, PriceTableError, load_prices, parse_prices
from cirrus.deploy.deploy_yml import ServingRequests, StepResources
from cirrus.runs.record import Machine, NodeRecord, RunRecord
from tests.conftest import REPO, make_project

SOURCE = "https://example.org/prices"
STEPS = {  # step: (wall seconds, peak GiB) of the 1M-row sample run, split over two nodes each
    "ingestion": (30.0, 2.0),
    "features": (20.0, 1.7),
    "training": (60.0, 4.0),
    "evaluation": (10.0, 1.1),
    "drift": (40.0, 1.5),
}


def price(name: str, vcpus: int, memory: float, on_demand: float, spot: float | None, cloud="aws"):
    """One constructed row of a price table."""
    return InstancePrice(
        cloud=cloud,
        region="test-1",
        instance_type=name,
        vcpus=vcpus,
        memory_gib=memory,
        on_demand_usd_per_hour=on_demand,
        spot_usd_per_hour=spot,
        source=SOURCE,
        read_on=date(2026, 12, 1),
    )


TABLE = [
    price("a.small", 2, 4, 0.10, 0.03),
    price("a.medium", 2, 8, 0.12, None),
    price("a.large", 4, 16, 0.20, 0.05),
    price("a.xlarge", 8, 64, 0.80, 0.20),
]


def record(
    rows: int | None, steps: dict[str, tuple[float, float]], run_id: str = "run"
) -> RunRecord:
    """A run record whose steps each ran two nodes: half the time each, the peak in the second."""
    nodes = [
        NodeRecord(
            node=f"{step}_{part}",
            pipeline=step,
            run_id=run_id,
            started_at="2026-12-07T04:00:00+00:00",
            wall_seconds=wall / 2,
            cpu_seconds=wall / 2 * 0.95,
            peak_rss_bytes=int(peak * GIB * (0.8 if part == 1 else 1.0)),
            rows_in=rows or 0,
            rows_out=rows or 0,
            bytes_read=0,
            bytes_written=0,
        )
        for step, (wall, peak) in steps.items()
        for part in (1, 2)
    ]
    return RunRecord(
        run_id=run_id,
        started_at="2026-12-07T04:00:00+00:00",
        finished_at="2026-12-07T04:03:00+00:00",
        wall_seconds=sum(wall for wall, _ in steps.values()),
        pipelines=list(steps),
        machine=Machine(cores=2, memory_bytes=24 * int(GIB), platform="Linux", python="3.11"),
        reference_rows=rows,
        nodes=nodes,
        recording_seconds=0.01,
    )


# --- the committed price table ------------------------------------------------------------------


def test_every_row_of_the_committed_table_parses_with_positive_figures_and_a_dated_source():
    # Act
    rows = load_prices()

    # Assert
    assert {row.cloud for row in rows} == set(CLOUDS)
    for cloud in CLOUDS:
        assert 10 <= sum(row.cloud == cloud for row in rows) <= 20, cloud
    for row in rows:
        assert row.vcpus > 0 and row.memory_gib > 0 and row.on_demand_usd_per_hour > 0
        assert row.source.startswith("https://")
        assert date(2020, 1, 1) < row.read_on <= date.today()
        # A spot price is a discount: one above on-demand would be a misread figure.
        assert row.spot_usd_per_hour is None or 0 < row.spot_usd_per_hour < (
            row.on_demand_usd_per_hour
        )
    keys = [(row.cloud, row.region, row.instance_type) for row in rows]
    assert len(keys) == len(set(keys))


def test_each_cloud_covers_two_to_thirty_two_vcpus():
    # Act
    rows = load_prices()

    # Assert: the smallest request fits and so does a 32-vCPU one
    for cloud in CLOUDS:
        sizes = {row.vcpus for row in rows if row.cloud == cloud}
        assert min(sizes) == 2 and max(sizes) >= 30, cloud


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("aws,r,t,2,8,0,,https://x.org,2026-01-01", "on_demand_usd_per_hour"),
        ("aws,r,t,2,8,0.1,-1,https://x.org,2026-01-01", "spot_usd_per_hour"),
        ("aws,r,t,2,8,0.1,,http://x.org,2026-01-01", "source"),
        ("aws,r,t,2,8,0.1,,https://x.org,yesterday", "read_on"),
        ("ibm,r,t,2,8,0.1,,https://x.org,2026-01-01", "cloud"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line_and_column(cell: str, problem: str):
    # Arrange
    header = "cloud,region,instance_type,vcpus,memory_gib,on_demand_usd_per_hour,"
    header += "spot_usd_per_hour,source,read_on"
    good = "aws,r,ok,2,8,0.1,0.05,https://x.org,2026-01-01"

    # Act
    with pytest.raises(PriceTableError) as raised:
        parse_prices(f"{header}\n{good}\n{cell}\n")

    # Assert
    assert "line 3" in str(raised.value) and problem in str(raised.value)


def test_an_empty_spot_cell_is_no_spot_price():
    # Act
    row = price("t", 2, 8, 0.1, None)

    # Assert
    assert row.spot_usd_per_hour is None


# --- instance choice and billing -----------------------------------------------------------------


def test_the_cheapest_instance_that_fits_is_chosen_per_capacity():
    # Act
    on_demand = cheapest(TABLE, "aws", 2, 6, "on_demand")
    spot = cheapest(TABLE, "aws", 2, 6, "spot")
    smallest = cheapest(TABLE, "aws", 1, 1, "on_demand")

    # Assert: a.medium is the cheapest with 8 GiB, but has no spot price
    assert on_demand.instance_type == "a.medium"
    assert spot.instance_type == "a.large"
    assert smallest.instance_type == "a.small"


def test_no_spot_price_for_any_fitting_instance_is_none():
    # Act
    spot = cheapest([price("only", 2, 8, 0.1, None)], "aws", 2, 8, "spot")

    # Assert
    assert spot is None


def test_nothing_fits_is_a_clear_error():
    # Act
    with pytest.raises(CostError) as raised:
        cheapest(TABLE, "aws", 16, 8, "on_demand")

    # Assert
    assert "No aws instance in the price table has 16 vCPUs and 8.00 GiB" in str(raised.value)
    assert "prices.csv" in raised.value.hint


def test_billing_is_per_second_with_the_clouds_minimum():
    # Arrange
    row = TABLE[0]  # $0.10 an hour on-demand, $0.03 spot
    azure = price("b", 2, 4, 0.10, None, cloud="azure")

    # Act, Assert: a 10-second step is billed 60 s; a long one its own seconds
    assert run_cost(row, "on_demand", 10) == pytest.approx(0.10 * 60 / 3600)
    assert run_cost(row, "spot", 10) == pytest.approx(0.03 * 60 / 3600)
    assert run_cost(row, "on_demand", 1234.5) == pytest.approx(0.10 * 1234.5 / 3600)
    assert run_cost(azure, "on_demand", 10) == pytest.approx(0.10 * 300 / 3600)
    assert run_cost(azure, "spot", 10) is None


# --- scaling -------------------------------------------------------------------------------------


def test_two_records_are_extrapolated_exactly_along_their_line():
    # Arrange: time = 5 s + 0.01 s/row, peak = 1 GiB + 1 MiB/row
    def steps(rows: int) -> dict[str, tuple[float, float]]:
        return {"training": (5 + 0.01 * rows, 1 + rows / 1024)}

    small, large = record(1000, steps(1000)), record(3000, steps(3000))

    # Act
    usage, note = scaled_usage([small, large], 10_000)

    # Assert
    assert usage["training"].wall_seconds == pytest.approx(105.0)
    assert usage["training"].peak_bytes == pytest.approx((1 + 10_000 / 1024) * GIB)
    assert usage["training"].cpu_seconds == pytest.approx(105.0 * 0.95)
    assert "a + b*rows" in note and "10,000" in note


def test_one_record_is_scaled_from_zero_and_says_so():
    # Act
    usage, note = scaled_usage([record(1000, {"training": (15.0, 2.0)})], 2000)

    # Assert
    assert usage["training"].wall_seconds == pytest.approx(30.0)
    assert usage["training"].peak_bytes == pytest.approx(4.0 * GIB)
    assert note.startswith("Assumption:") and "from zero" in note


def test_a_fit_never_goes_below_zero():
    # Arrange: time falls with rows, so a bigger run extrapolates below zero
    down = [record(1000, {"s": (10.0, 2.0)}), record(2000, {"s": (5.0, 2.0)})]

    # Act
    usage, _ = scaled_usage(down, 10_000)

    # Assert
    assert usage["s"].wall_seconds == 0.0


@pytest.mark.parametrize(
    ("records", "rows", "message"),
    [
        ([], None, "0 run records given"),
        ([record(1000, STEPS)] * 3, 10, "3 run records given"),
        ([record(1000, STEPS), record(2000, STEPS)], None, "add --rows N"),
        ([record(None, STEPS, run_id="r7")], 10, "Run record r7 has no reference_rows"),
        ([record(1000, STEPS), record(1000, STEPS)], 10, "Both run records read 1,000 rows"),
        (
            [record(1000, STEPS), record(2000, {"training": (1.0, 1.0)})],
            10,
            "cover different steps",
        ),
    ],
)
def test_records_that_cannot_be_scaled_are_refused(records, rows, message):
    # Act
    with pytest.raises(CostError) as raised:
        scaled_usage(records, rows)

    # Assert
    assert message in str(raised.value)


# --- recommendation and the report ---------------------------------------------------------------


def test_a_step_far_below_its_request_gets_a_cheaper_type_and_a_positive_saving():
    # Arrange: 8 vCPUs, 64 GiB requested; 1 GiB used at most
    request = StepResources(cpu=2, memory_gb=64, spot=False)
    use = Usage(wall_seconds=600, cpu_seconds=500, peak_bytes=1 * GIB)

    # Act
    result, _ = step_cost(use, request, TABLE, "aws", headroom=0.5)

    # Assert
    assert result.instance_type == "a.xlarge"
    assert result.recommended_instance_type == "a.small"
    assert result.saving_usd == pytest.approx((0.80 - 0.10) * 600 / 3600)
    assert result.saving_usd > 0


def test_a_spot_step_is_compared_on_spot_and_a_peak_above_the_request_costs_more():
    # Arrange: 2 vCPUs, 4 GiB on spot; 5 GiB peak x 1.5 needs the 16 GiB type
    request = StepResources(cpu=2, memory_gb=4, spot=True)
    use = Usage(wall_seconds=3600, cpu_seconds=3600, peak_bytes=5 * GIB)

    # Act
    result, _ = step_cost(use, request, TABLE, "aws", headroom=0.5)

    # Assert
    assert result.basis == "spot"
    assert result.current_usd == pytest.approx(0.03)
    assert result.recommended_instance_type == "a.large"
    assert result.saving_usd == pytest.approx(0.03 - 0.05)


def test_runs_per_month_of_simple_schedules():
    # Act, Assert
    assert runs_per_month("0 4 * * 1") == pytest.approx(365.25 / 12 / 7)
    assert runs_per_month("0 4 1,15 * *") == 2
    assert runs_per_month("*/30 9-17 * * 1-5") == pytest.approx(2 * 9 * 365.25 / 12 * 5 / 7)
    assert runs_per_month("0 4 * * 0,7") == pytest.approx(365.25 / 12 / 7)  # both Sunday
    assert runs_per_month("0 4 1 * 1") is None
    assert runs_per_month("0 4 * * MON") is None
    assert runs_per_month(None) is None


def test_a_price_older_than_the_limit_is_warned_about():
    # Arrange
    today = date(2026, 12, 7)

    # Act, Assert
    assert stale_warning(today - timedelta(days=181), today, 180).startswith("Warning:")
    assert stale_warning(today - timedelta(days=180), today, 180) is None


def test_the_report_prices_every_step_on_every_cloud_from_the_committed_table():
    # Arrange
    usage, note = scaled_usage([record(1_000_000, STEPS)], None)
    requests = {step: StepResources(cpu=1, memory_gb=4, spot=step == "training") for step in STEPS}

    # Act
    report = build_report(
        usage,
        requests,
        ServingRequests(cpu=1, memory_gb=2),
        load_prices(),
        headroom=0.5,
        predictions_per_second=200,
        schedule="0 4 * * 1",
        rows=None,
        scaling=note,
    )

    # Assert: the shape the model card reads, and totals that add up
    document = report.model_dump(mode="json")
    for block in ("per_run", "per_1000_predictions"):
        assert set(document[block]) == set(CLOUDS)
        for prices in document[block].values():
            assert set(prices) == {"on_demand_usd", "spot_usd"}
            assert prices["on_demand_usd"] > 0
    assert date.fromisoformat(document["price_table_read_on"]) <= date.today()
    assert [step["step"] for step in document["steps"]] == list(STEPS)
    for cloud in CLOUDS:
        steps = [step.clouds[cloud] for step in report.steps]
        assert report.per_run[cloud].on_demand_usd == pytest.approx(
            sum(s.on_demand_usd for s in steps)
        )
    assert report.per_run["gcp"].spot_usd is not None  # the GCP rows carry spot prices
    assert report.per_run["aws"].spot_usd is None  # the AWS rows do not
    assert any(NO_SPOT in line for line in report.assumptions)


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch):
    """Run `cirrus cost ARGS` in the repository, as `kedro cirrus cost` does once registered."""
    monkeypatch.chdir(REPO)
    group = ReadableErrorsGroup("cirrus")
    group.add_command(cost)

    def run(*args: str) -> click.testing.Result:
        return CliRunner().invoke(group, ["cost", *args])

    return run


def write(path: Path, run: RunRecord) -> str:
    """A run record written as the project writes it."""
    path.write_text(run.model_dump_json(indent=2))
    return str(path)


def test_the_command_prints_tables_and_writes_the_json(invoke, tmp_path: Path):
    # Arrange
    recorded = write(tmp_path / "run_record.json", record(1_000_000, STEPS))
    out = tmp_path / "reporting" / "cost.json"

    # Act
    result = invoke("--record", recorded, "--out", str(out))

    # Assert
    assert result.exit_code == 0, result.output
    for step in STEPS:
        assert f"{step}: wall" in result.stdout
    assert "Per run" in result.stdout and "per 1,000 predictions" in result.stdout
    assert "storage, network and request costs are left out" in result.stdout
    report = CostReport.model_validate(json.loads(out.read_text()), strict=False)
    assert report.steps[2].requested_cpu == 4  # training's request in conf/base/deploy.yml
    assert report.steps[2].spot is True
    assert report.runs_per_month is not None  # deploy.yml's weekly schedule


def test_the_command_scales_two_records_to_the_rows_asked(invoke, tmp_path: Path):
    # Arrange
    small = write(
        tmp_path / "small.json", record(100_000, {s: (w / 10, p) for s, (w, p) in STEPS.items()})
    )
    large = write(tmp_path / "large.json", record(1_000_000, STEPS))

    # Act
    result = invoke(
        "--record",
        small,
        "--record",
        large,
        "--rows",
        "10000000",
        "--out",
        str(tmp_path / "c.json"),
    )

    # Assert
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["rows"] == 10_000_000
    assert report["steps"][0]["wall_seconds"] == pytest.approx(300.0)


def test_the_command_refuses_two_records_of_the_same_size(invoke, tmp_path: Path):
    # Arrange
    one = write(tmp_path / "one.json", record(1000, STEPS))
    two = write(tmp_path / "two.json", record(1000, STEPS))

    # Act
    result = invoke("--record", one, "--record", two, "--rows", "5000")

    # Assert
    assert result.exit_code == 1
    assert "Error: Both run records read 1,000 rows" in result.output
    assert "Hint:" in result.output


def test_the_command_warns_on_stderr_when_prices_are_too_old(invoke, tmp_path: Path):
    # Arrange
    recorded = write(tmp_path / "run.json", record(1000, STEPS))

    # Act
    result = invoke(
        "--record", recorded, "--max-price-age-days", "0", "--out", str(tmp_path / "c.json")
    )

    # Assert
    assert result.exit_code == 0
    assert "Warning: the oldest price used was read on" in result.stderr
    assert "Warning" not in result.stdout


def test_without_a_record_the_command_reads_the_catalogs_run_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # Arrange: a project copy that has not run yet
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    group = ReadableErrorsGroup("cirrus")
    group.add_command(cost)

    # Act
    before = CliRunner().invoke(group, ["cost"])
    write(project / "data/08_reporting/run_record.json", record(1000, STEPS))
    after = CliRunner().invoke(group, ["cost"])

    # Assert: without a record it names what is missing; with one, it is priced
    assert before.exit_code == 1
    assert "run_record" in before.output
    assert after.exit_code == 0, after.output
    written = json.loads((project / "data/08_reporting/cost.json").read_text())
    assert [step["step"] for step in written["steps"]] == list(STEPS)
