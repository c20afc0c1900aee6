"""What a run costs on AWS, GCP and Azure: the run record's measured use per deploy step, priced
on the instances deploy.yml requests and on the smallest ones the measurements call for.

Pure functions of a run record, the requested resources and the price table; the command only
reads the inputs, prints and writes the `CostReport`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from cirrus.cost.prices import CLOUDS, Cloud, InstancePrice
from cirrus.deploy.deploy_yml import ServingRequests, StepResources
from cirrus.errors import CirrusError
from cirrus.runs.record import RunRecord

Capacity = Literal["on_demand", "spot"]
SECONDS_PER_HOUR = 3600.0
GIB = float(2**30)
DAYS_PER_MONTH = 365.25 / 12
# Linux VMs bill per second after a minimum charge per start. AWS: 60 s
# (https://handbook.vantage.sh/aws/services/ec2-pricing/); GCP: 60 s
# (https://cloud.google.com/compute/vm-instance-pricing); Azure: 300 s for VMs started from
# 2025-06-01 (https://learn.microsoft.com/en-us/answers/questions/2259765/clarification-on-azure-vm-billing-for-short-runtim).
MINIMUM_BILLED_SECONDS: dict[Cloud, float] = {"aws": 60.0, "gcp": 60.0, "azure": 300.0}
NO_SPOT = "no spot price in the table"
ASSUMPTIONS = (
    "Compute only: storage, network and request costs are left out.",
    "Each step runs on its own machine, billed per second with a minimum charge (AWS 60 s, "
    "GCP 60 s, Azure 300 s); machine start-up and image pull time are left out.",
    "Measured times are assumed to hold on the cloud instance; list prices for Linux, without "
    "committed-use, reserved or savings-plan discounts.",
    "Peak memory is the highest of the step's nodes, each measured from its own start (the "
    "process's high-water mark is reset before every node), Python and its libraries included; "
    "in one local process it also counts tables earlier steps still hold, so a step on a machine "
    "of its own needs at most that.",
    "Recommended: the cheapest type with the step's vCPUs and memory >= measured peak x "
    "(1 + headroom), priced on the step's declared capacity (spot where the table has one).",
)


class CostError(CirrusError):
    """The run records, the request or the price table cannot be priced as given."""

    hint = "Give one run record (--record FILE), or two from runs of different sizes and --rows N."


class Usage(NamedTuple):
    """What one deploy step used: wall and CPU seconds, and its peak resident memory in bytes."""

    wall_seconds: float
    cpu_seconds: float
    peak_bytes: float


def usage_of(record: RunRecord) -> dict[str, Usage]:
    """Each deploy step's summed wall and CPU seconds and the highest peak of its nodes."""
    return {
        step: Usage(
            sum(node.wall_seconds for node in nodes),
            sum(node.cpu_seconds for node in nodes),
            float(max(node.peak_rss_bytes for node in nodes)),
        )
        for step, nodes in record.steps().items()
        if step  # nodes outside any deploy step run on no machine of their own
    }


def _line(x1: float, y1: float, x2: float, y2: float, x: float) -> float:
    """The straight line through (x1, y1) and (x2, y2) at x, never below zero."""
    return max(0.0, y1 + (y2 - y1) * (x - x1) / (x2 - x1))


def scaled_usage(records: Sequence[RunRecord], rows: int | None) -> tuple[dict[str, Usage], str]:
    """The steps' use at `rows` rows (as recorded without), and the assumption that made it."""
    if not records or len(records) > 2:
        raise CostError(f"{len(records)} run records given: give one, or two with --rows N")
    if rows is None:
        if len(records) == 2:
            raise CostError("Two run records are for scaling: add --rows N to price N rows")
        return usage_of(records[0]), "Priced as recorded: no --rows given."
    points = []
    for record in records:
        if record.reference_rows is None:
            raise CostError(f"Run record {record.run_id} has no reference_rows to scale from")
        points.append((record.reference_rows, usage_of(record)))
    if len(points) == 1:  # the line through zero: no use at no rows
        size, use = points[0]
        points.insert(0, (0, {step: Usage(0.0, 0.0, 0.0) for step in use}))
        note = f"Assumption: time and memory scaled linearly from zero ({size:,} to {rows:,} rows)."
    else:
        note = (
            f"Time and peak memory per step fitted as a + b*rows through runs of "
            f"{points[0][0]:,} and {points[1][0]:,} rows, extrapolated to {rows:,}."
        )
    (x1, first), (x2, second) = points
    if x1 == x2:
        raise CostError(f"Both run records read {x1:,} rows: two sizes are needed to fit")
    if first.keys() != second.keys():
        raise CostError(
            f"The run records cover different steps: {', '.join(sorted(first))} and "
            f"{', '.join(sorted(second))}"
        )
    return {
        step: Usage(*(_line(x1, a, x2, b, rows) for a, b in zip(first[step], use, strict=True)))
        for step, use in second.items()
    }, note


def hourly(row: InstancePrice, capacity: Capacity) -> float | None:
    """The row's price per hour on that capacity (None: no spot price in the table)."""
    return row.on_demand_usd_per_hour if capacity == "on_demand" else row.spot_usd_per_hour


def cheapest(
    prices: Sequence[InstancePrice], cloud: Cloud, cpu: float, memory_gib: float, capacity: Capacity
) -> InstancePrice | None:
    """The cheapest instance with at least `cpu` vCPUs and `memory_gib` GiB priced on `capacity`;
    None when some fit but none has a spot price (every row has an on-demand one); CostError when
    none fits."""
    fits = [p for p in prices if p.cloud == cloud and p.vcpus >= cpu and p.memory_gib >= memory_gib]
    if not fits:
        raise CostError(
            f"No {cloud} instance in the price table has {cpu:g} vCPUs and {memory_gib:.2f} GiB",
            hint="Add larger types to src/cirrus/cost/prices.csv, or request less in deploy.yml.",
        )
    priced = [p for p in fits if hourly(p, capacity) is not None]
    return min(priced, key=lambda p: (hourly(p, capacity), p.vcpus, p.memory_gib), default=None)


def run_cost(row: InstancePrice | None, capacity: Capacity, seconds: float) -> float | None:
    """A machine of that row up `seconds`, billed per second with the cloud's minimum charge;
    None without a price on `capacity`."""
    price = None if row is None else hourly(row, capacity)
    if row is None or price is None:
        return None
    return price * max(seconds, MINIMUM_BILLED_SECONDS[row.cloud]) / SECONDS_PER_HOUR


class Out(BaseModel):
    """Strict, closed output: what another part reads (the model card) fails on a changed key."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Price(Out):
    """A cost on on-demand and on spot capacity (spot None: no spot price in the table)."""

    on_demand_usd: float
    spot_usd: float | None


class ServingInstance(Out):
    """The cheapest instances fitting one serving pod, on-demand and spot."""

    instance_type: str
    spot_instance_type: str | None


class CloudStepCost(Price):
    """One step on one cloud: as requested, and on the cheapest type its measurements fit."""

    instance_type: str
    spot_instance_type: str | None
    basis: Capacity  # what `current_usd` and `recommended_usd` are priced on
    current_usd: float
    recommended_instance_type: str
    recommended_usd: float
    saving_usd: float


class StepCost(Out):
    """One deploy step: what it used, what deploy.yml requests, and its cost per cloud."""

    step: str
    wall_seconds: float
    cpu_seconds: float
    peak_memory_gib: float
    requested_cpu: float
    requested_memory_gib: float
    spot: bool
    clouds: dict[Cloud, CloudStepCost]


class Saving(Out):
    """A whole run on one cloud as deploy.yml declares it, and on the recommended types."""

    current_usd: float
    recommended_usd: float
    saving_usd: float
    saving_per_month_usd: float | None


class CostReport(Out):
    """`kedro cirrus cost`'s result, written to data/08_reporting/cost.json."""

    price_table_read_on: date
    rows: int | None
    headroom: float
    predictions_per_second: float
    runs_per_month: float | None
    per_run: dict[Cloud, Price]  # every step on-demand, or every step on spot
    per_1000_predictions: dict[Cloud, Price]
    savings: dict[Cloud, Saving]
    serving_instances: dict[Cloud, ServingInstance]
    steps: list[StepCost]
    assumptions: list[str]


def step_cost(
    use: Usage,
    request: StepResources,
    prices: Sequence[InstancePrice],
    cloud: Cloud,
    headroom: float,
) -> tuple[CloudStepCost, list[InstancePrice]]:
    """A step's cost on one cloud, and the price rows it used."""
    needed_gib = use.peak_bytes / GIB * (1 + headroom)
    on_demand = cheapest(prices, cloud, request.cpu, request.memory_gb, "on_demand")
    spot = cheapest(prices, cloud, request.cpu, request.memory_gb, "spot")
    spot_fit = cheapest(prices, cloud, request.cpu, needed_gib, "spot")
    # Current and recommended are compared on the same capacity: spot only where both have one.
    basis: Capacity = "spot" if request.spot and spot and spot_fit else "on_demand"
    current = spot if basis == "spot" else on_demand
    recommended = cheapest(prices, cloud, request.cpu, needed_gib, basis)
    seconds = use.wall_seconds
    current_usd = run_cost(current, basis, seconds) or 0.0
    recommended_usd = run_cost(recommended, basis, seconds) or 0.0
    cost = CloudStepCost(
        instance_type=on_demand.instance_type,
        on_demand_usd=run_cost(on_demand, "on_demand", seconds) or 0.0,
        spot_instance_type=spot.instance_type if spot else None,
        spot_usd=run_cost(spot, "spot", seconds),
        basis=basis,
        current_usd=current_usd,
        recommended_instance_type=recommended.instance_type,
        recommended_usd=recommended_usd,
        saving_usd=current_usd - recommended_usd,
    )
    return cost, [row for row in (on_demand, spot, recommended) if row]


def serving_cost(
    prices: Sequence[InstancePrice], cloud: Cloud, request: ServingRequests, per_second: float
) -> tuple[Price, ServingInstance, list[InstancePrice]]:
    """Cost per 1,000 predictions of one pod busy at `per_second`, alone on its instance."""
    on_demand = cheapest(prices, cloud, request.cpu, request.memory_gb, "on_demand")
    spot = cheapest(prices, cloud, request.cpu, request.memory_gb, "spot")
    hours = 1000 / per_second / SECONDS_PER_HOUR  # no minimum charge: the pod keeps running
    spot_price = None if spot is None else spot.spot_usd_per_hour
    cost = Price(
        on_demand_usd=on_demand.on_demand_usd_per_hour * hours,
        spot_usd=None if spot_price is None else spot_price * hours,
    )
    instance = ServingInstance(
        instance_type=on_demand.instance_type,
        spot_instance_type=spot.instance_type if spot else None,
    )
    return cost, instance, [row for row in (on_demand, spot) if row]


def _values(field: str, low: int, high: int) -> set[int]:
    """The values a cron field takes: numbers, `*`, ranges, lists and steps."""
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        start, _, end = (f"{low}-{high}" if span == "*" else span).partition("-")
        last = int(end) if end else (high if step else int(start))
        values.update(range(int(start), last + 1, int(step or 1)))
    return values


def runs_per_month(cron: str | None) -> float | None:
    """Average runs a month of a five-field cron schedule; None when not simply estimated."""
    if cron is None:
        return None
    minute, hour, day, month, weekday = cron.split()
    if day != "*" and weekday != "*":
        return None  # cron runs when either matches: not estimated
    try:
        per_day = len(_values(minute, 0, 59)) * len(_values(hour, 0, 23))
        weekdays = len({value % 7 for value in _values(weekday, 0, 7)})  # 0 and 7: Sunday
        days = len(_values(day, 1, 31)) if day != "*" else DAYS_PER_MONTH * weekdays / 7
        return per_day * days * len(_values(month, 1, 12)) / 12
    except ValueError:  # names (MON, JAN) and other forms
        return None


def build_report(
    usage: Mapping[str, Usage],
    requests: Mapping[str, StepResources],
    serving: ServingRequests,
    prices: Sequence[InstancePrice],
    *,
    headroom: float,
    predictions_per_second: float,
    schedule: str | None,
    rows: int | None,
    scaling: str,
) -> CostReport:
    """Every step on every cloud, the run totals and the serving cost, in one report."""
    used: list[InstancePrice] = []
    steps = []
    for step, use in usage.items():
        request = requests[step]
        clouds = {}
        for cloud in CLOUDS:
            clouds[cloud], rows_used = step_cost(use, request, prices, cloud, headroom)
            used += rows_used
        steps.append(
            StepCost(
                step=step,
                wall_seconds=use.wall_seconds,
                cpu_seconds=use.cpu_seconds,
                peak_memory_gib=use.peak_bytes / GIB,
                requested_cpu=request.cpu,
                requested_memory_gib=request.memory_gb,
                spot=request.spot,
                clouds=clouds,
            )
        )
    monthly = runs_per_month(schedule)
    per_run, savings, per_1000, instances = {}, {}, {}, {}
    for cloud in CLOUDS:
        costs = [step.clouds[cloud] for step in steps]
        spots, saving = [c.spot_usd for c in costs], sum(c.saving_usd for c in costs)
        per_run[cloud] = Price(
            on_demand_usd=sum(c.on_demand_usd for c in costs),
            spot_usd=None if None in spots else sum(s or 0.0 for s in spots),
        )
        savings[cloud] = Saving(
            current_usd=sum(c.current_usd for c in costs),
            recommended_usd=sum(c.recommended_usd for c in costs),
            saving_usd=saving,
            saving_per_month_usd=None if monthly is None else saving * monthly,
        )
        per_1000[cloud], instances[cloud], rows_used = serving_cost(
            prices, cloud, serving, predictions_per_second
        )
        used += rows_used
    return CostReport(
        price_table_read_on=min(row.read_on for row in used),
        rows=rows,
        headroom=headroom,
        predictions_per_second=predictions_per_second,
        runs_per_month=monthly,
        per_run=per_run,
        per_1000_predictions=per_1000,
        savings=savings,
        serving_instances=instances,
        steps=steps,
        assumptions=[
            *ASSUMPTIONS,
            scaling,
            f"Serving: one pod ({serving.cpu:g} CPU, {serving.memory_gb:g} GiB) alone on the "
            f"cheapest instance that fits it, busy at {predictions_per_second:g} predictions/s; "
            "idle replicas are not counted.",
            *(
                f"{cloud}: {NO_SPOT}; its spot steps are priced on-demand as declared."
                for cloud in CLOUDS
                if any(s.spot and s.clouds[cloud].basis == "on_demand" for s in steps)
            ),
        ],
    )


def stale_warning(read_on: date, today: date, max_age_days: int) -> str | None:
    """A warning when the oldest price used is older than `max_age_days`."""
    age = (today - read_on).days
    if age <= max_age_days:
        return None
    return (
        f"Warning: the oldest price used was read on {read_on}, {age} days ago (over "
        f"{max_age_days}); refresh src/cirrus/cost/prices.csv as docs/cost.md describes."
    )
