"""Benchmark the prediction API (`kedro cirrus serve`) under a bounded load on loopback.

In a temp copy of the project: generate the demo data, train (`kedro run`) and batch-score the
rows to score (`kedro run --pipelines inference`, which also validates them). Then start the
server, send each load phase at a fixed request rate for a fixed time (open loop: a request is
due at its time whether or not earlier ones were answered; latency counts from that time), stop
the server with SIGTERM and check the prediction log holds every answered row. The in-process
time of `booster.predict` on the same rows is measured in the same run, on the pandas-frame path
(`cirrus.modeling.predict_scores`, which also parses the model text) and on the numeric-array
path with num_threads=1 (what the server does).

    python benchmarks/bench_serving.py                        # 1 row at 200 req/s, 100 at 50, 10 s
    python benchmarks/bench_serving.py --load 1x400 100x50 --seconds 20 --out results.json
    python benchmarks/bench_serving.py --project DIR          # reuse a trained copy (faster)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import yaml
from bench_pipelines import copy_project

from cirrus.contract import parse_contract
from cirrus.feature_spec import parse_feature_spec
from cirrus.modeling import model_matrix, predict_scores
from cirrus.prediction_log import PredictionLog
from cirrus.results import ModelBundle
from cirrus.scoring import Scorer, numeric_matrix
from cirrus.serving.schema import request_columns

PROJECT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef0123456789"  # serve wants 32+ characters
ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "CIRRUS_PII_SALT": "bench-salt",
    "CIRRUS_API_TOKEN": TOKEN,
    "COLUMNS": "200",
}
ROWS_TO_SCORE = "data/02_intermediate/validated_inference.parquet"
LOG_ROOT = "data/07_model_output/prediction_log"
WARMUP_REQUESTS = 300
CONNECTIONS = 64  # keep-alive connections the client spreads the load over
IN_PROCESS_REPEATS = 300


@dataclass
class Phase:
    """One load phase: its requests and what came back."""

    rows: int
    rate: float
    requests: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)  # how late the client sent each request
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    answered: list[str] = field(default_factory=list)  # request ids of the 200s
    answered_rows: int = 0
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None

    def summary(self) -> dict[str, Any]:
        """Percentiles and counts (the raw lists stay out of the printed table)."""
        values = np.asarray(self.latencies_ms or [np.nan])
        return {
            "rows": self.rows,
            "rate": self.rate,
            "requests": self.requests,
            "achieved_rate": round(self.requests / self.seconds, 1) if self.seconds else None,
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p90_ms": round(float(np.percentile(values, 90)), 2),
            "p99_ms": round(float(np.percentile(values, 99)), 2),
            "max_ms": round(float(values.max()), 2),
            "errors": self.errors,
            "statuses": self.statuses,
            "client_late_p99_ms": round(float(np.percentile(self.late_ms or [0], 99)), 2),
            "client_cpu_seconds": round(self.client_cpu_seconds, 2),
            "server_cpu_seconds": self.server_cpu_seconds,
        }


def run(cmd: list[str], cwd: Path, log: Path) -> None:
    """Run a command to completion, its output in `log`; fail with the log's tail."""
    with log.open("w") as out:
        code = subprocess.call(cmd, cwd=cwd, env={**os.environ, **ENV}, stdout=out, stderr=out)
    if code:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{tail}")


def kedro_bin() -> str:
    """The `kedro` executable next to this interpreter (the project's venv)."""
    local = Path(sys.executable).parent / "kedro"
    return str(local) if local.exists() else "kedro"


def trained_project(workdir: Path) -> Path:
    """A project copy with the demo data, a trained model and validated rows to score."""
    project = copy_project(workdir)
    for name, args in (
        ("demo_data", ["run", "--pipelines", "demo_data"]),
        ("train", ["run"]),
        ("inference", ["run", "--pipelines", "inference"]),
    ):
        started = time.perf_counter()
        run([kedro_bin(), *args], project, workdir / f"{name}.log")
        print(f"kedro {' '.join(args)}: {time.perf_counter() - started:.0f}s")
    return project


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(project: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    """`kedro cirrus serve` in its own process group; returns once /readyz answers 200."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [kedro_bin(), "cirrus", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=project,
            env={**os.environ, **ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        if asyncio.run(status_of(port, "/readyz")) == 200:
            return process
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready in 120 s:\n{log.read_text()[-3000:]}")


async def status_of(port: int, path: str) -> int | None:
    """The status of a GET with the token, None if nothing answers."""
    try:
        connection = await Connection.open(port)
    except OSError:
        return None
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        status, _ = await connection.send(request.encode())
        return status
    finally:
        connection.close()


class Connection:
    """One keep-alive HTTP/1.1 connection: a request written whole, its answer read whole.

    Hand-written on asyncio streams: a full HTTP client would take the CPU the server is being
    measured on (both share the machine's cores).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to the server."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a request; the status and body of its answer."""
        self.writer.write(request)
        await self.writer.drain()
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def predict_request(body: bytes) -> bytes:
    """A whole POST /v1/predict request."""
    head = (
        "POST /v1/predict HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def request_bodies(rows: pd.DataFrame, columns: list[str], size: int) -> list[bytes]:
    """Requests of `size` rows each, cycling over the rows to score."""
    records = json.loads(rows[columns].to_json(orient="records", date_format="iso"))
    count = max(1, min(len(records) // size, 500))
    return [
        predict_request(json.dumps({"rows": records[i * size : (i + 1) * size]}).encode())
        for i in range(count)
    ]


def process_cpu(group: int) -> float | None:
    """CPU seconds the processes of a process group (the server and its workers) used so far,
    from /proc; None where there is no /proc."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # pgrp
            total += sum(int(value) for value in fields[11:13])  # utime stime
            found = True
    return total / os.sysconf("SC_CLK_TCK") if found else None


async def load_phase(port: int, bodies: list[bytes], phase: Phase, server_pid: int) -> Phase:
    """Send `phase.requests` requests at `phase.rate` per second; record every answer."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await Connection.open(port))
    loop = asyncio.get_running_loop()
    answers: list[bytes] = []
    cpu_before, server_before = resource.getrusage(resource.RUSAGE_SELF), process_cpu(server_pid)

    async def one(index: int, due: float) -> None:
        connection = await pool.get()
        phase.late_ms.append((loop.time() - due) * 1000)
        try:
            status, body = await connection.send(bodies[index % len(bodies)])
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            phase.errors += 1
            connection.close()
            pool.put_nowait(await Connection.open(port))
            return
        pool.put_nowait(connection)
        phase.latencies_ms.append((loop.time() - due) * 1000)
        phase.statuses[str(status)] = phase.statuses.get(str(status), 0) + 1
        if status == 200:
            answers.append(body)
        else:
            phase.errors += 1

    start = loop.time() + 0.05
    tasks = []
    for index in range(phase.requests):
        due = start + index / phase.rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    phase.seconds = loop.time() - start
    cpu_after, server_after = resource.getrusage(resource.RUSAGE_SELF), process_cpu(server_pid)
    phase.client_cpu_seconds = (cpu_after.ru_utime + cpu_after.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    if server_before is not None and server_after is not None:
        phase.server_cpu_seconds = round(server_after - server_before, 2)
    while not pool.empty():
        pool.get_nowait().close()
    for body in answers:  # parsed after the clock stopped
        answer = json.loads(body)
        phase.answered.append(answer["request_id"])
        phase.answered_rows += len(answer["predictions"])
    return phase


def timed_ms(function: Any, repeats: int = IN_PROCESS_REPEATS) -> dict[str, float]:
    """Median and p99 milliseconds of a call, after a warm-up."""
    for _ in range(20):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(float(np.median(times)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
    }


def in_process_times(project: Path, rows: pd.DataFrame, sizes: list[int]) -> dict[str, Any]:
    """booster.predict on the same rows in this process: frame path and numeric path."""
    conf = project / "conf" / "base"
    contract = parse_contract(
        yaml.safe_load((conf / "parameters_contract.yml").read_text())["contract"]
    )
    model_text = (project / "data/06_models/model.txt").read_text()
    spec = parse_feature_spec(
        json.loads((project / "data/04_feature/feature_spec.json").read_text()), "feature_spec"
    )
    bundle = ModelBundle.model_validate_json(
        (project / "data/06_models/model_bundle.json").read_text()
    )
    scorer = Scorer.load(model_text, spec, contract, bundle)
    results = {}
    for size in sizes:
        batch = rows.head(size).reset_index(drop=True)
        features = scorer.features(batch)
        frame, matrix = model_matrix(features, spec), numeric_matrix(features, spec)
        results[f"{size}_rows"] = {
            "predict_scores (parses the model text, pandas frame)": timed_ms(
                lambda f=features: predict_scores(model_text, f, spec), repeats=50
            ),
            "booster.predict(pandas frame)": timed_ms(lambda f=frame: scorer.booster.predict(f)),
            "booster.predict(numeric array, num_threads=1)": timed_ms(
                lambda m=matrix: scorer.booster.predict(m, num_threads=1)
            ),
            "Scorer.score_matrix (features + predict, as the server)": timed_ms(
                lambda b=batch: scorer.score_matrix(b)
            ),
        }
    return results


def logged_api_rows(project: Path) -> pd.DataFrame:
    """The rows the API wrote to the project's prediction log."""
    rows = PredictionLog(fsspec.filesystem("file"), str(project / LOG_ROOT)).read()
    return rows[rows["source"] == "api"] if len(rows) else rows


def parse_load(text: str) -> tuple[int, float]:
    """ROWSxRATE, e.g. 1x200: one-row requests at 200 per second."""
    rows, _, rate = text.partition("x")
    return int(rows), float(rate)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--load",
        nargs="+",
        default=["1x200", "100x50"],
        help="phases as ROWSxRATE: rows per request x requests per second (default 1x200 100x50)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--project", type=Path, help="a trained project copy to reuse")
    parser.add_argument("--workdir", type=Path, help="where the temp project goes")
    parser.add_argument("--out", type=Path, help="results JSON (default: in the work dir)")
    return parser.parse_args(argv)


def print_results(results: dict[str, Any]) -> None:
    """The load phases and the in-process times as tables."""
    print(
        f"\nload average at start {results['load_average_start']}, at end "
        f"{results['load_average_end']}; {results['machine']['cpus']} CPUs"
    )
    header = f"{'rows':>5} {'req/s':>6} {'reqs':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
    print(header + f"{'max ms':>8} {'errors':>6}  server CPU s  client CPU s")
    for phase in results["phases"]:
        print(
            f"{phase['rows']:>5} {phase['rate']:>6g} {phase['requests']:>6} {phase['p50_ms']:>8} "
            f"{phase['p90_ms']:>8} {phase['p99_ms']:>8} {phase['max_ms']:>8} "
            f"{phase['errors']:>6}  {phase['server_cpu_seconds']!s:>12}  "
            f"{phase['client_cpu_seconds']:>12}"
        )
    print("\nin-process, same rows (p50 / p99 ms):")
    for size, timings in results["in_process"].items():
        for name, value in timings.items():
            print(f"  {size:>9}  {name:<58} {value['p50_ms']:>8} / {value['p99_ms']}")
    check = results["log_check"]
    verdict = "ok" if check["complete"] else "MISSING ROWS"
    print(
        f"\nprediction log after SIGTERM: {check['answered_rows']} answered row(s), "
        f"{check['logged_rows']} logged, every answered request logged: {verdict}"
    )


def main(argv: list[str] | None = None) -> None:
    """Set up, load the server phase by phase, stop it, check the log, print the numbers."""
    args = parse_args(argv)
    load_start = os.getloadavg()
    print(f"load average at start: {load_start}")
    workdir = Path(tempfile.mkdtemp(prefix="cirrus-bench-serving-", dir=args.workdir))
    project = args.project or trained_project(workdir)
    shutil.rmtree(project / LOG_ROOT, ignore_errors=True)  # only this run's rows in the log
    rows = pd.read_parquet(project / ROWS_TO_SCORE)
    columns = request_columns(
        parse_contract(
            yaml.safe_load((project / "conf/base/parameters_contract.yml").read_text())["contract"]
        )
    )
    loads = [parse_load(text) for text in args.load]
    in_process = in_process_times(project, rows, sorted({size for size, _ in loads}))
    port = free_port()
    server = start_server(project, port, args.workers, workdir / "serve.log")
    phases: list[Phase] = []
    try:
        warmup = Phase(rows=1, rate=200, requests=WARMUP_REQUESTS)
        asyncio.run(load_phase(port, request_bodies(rows, columns, 1), warmup, server.pid))
        for size, rate in loads:
            phase = Phase(rows=size, rate=rate, requests=int(rate * args.seconds))
            print(f"phase: {size} row(s) per request, {rate:g} requests/s, {args.seconds:g} s")
            bodies = request_bodies(rows, columns, size)
            phases.append(asyncio.run(load_phase(port, bodies, phase, server.pid)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    logged = logged_api_rows(project)
    answered = [warmup, *phases]
    answered_ids = {request_id for phase in answered for request_id in phase.answered}
    answered_rows = sum(phase.answered_rows for phase in answered)
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "seconds_per_phase": args.seconds,
        "workers": args.workers,
        "phases": [phase.summary() for phase in phases],
        "in_process": in_process,
        "log_check": {
            "answered_rows": answered_rows,
            "logged_rows": len(logged),
            "complete": answered_ids <= set(logged["request_id"]) and len(logged) == answered_rows,
        },
        "project": str(project),
    }
    out = args.out or workdir / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print_results(results)
    print(f"\nresults written to {out}; server log {workdir / 'serve.log'}")


if __name__ == "__main__":
    main()
