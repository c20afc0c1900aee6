"""Kedro-free baselines of the Cirrus lifecycle, timed by benchmarks/bench_pipelines.py.

Two variants, each runnable one stage per process (intermediates persisted like the catalog)
or all stages in one process (outputs still written, inputs passed in memory):

- ``cirrus``: the project's own node functions called in-process, without Kedro's config
  loader, catalog, runner or hooks (module ``baseline_cirrus``);
- ``hand``: a hand-written pandas + LightGBM + Evidently equivalent that uses no cirrus code
  (module ``baseline_hand``).

Parameters are read straight from ``conf/base/*.yml`` of the given project with
``yaml.safe_load``; the raw CSV paths come from ``conf/base/catalog.yml``.

    python benchmarks/plain_baseline.py --variant cirrus --stage all --project DIR --out DIR
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

VARIANTS = {"cirrus": "baseline_cirrus", "hand": "baseline_hand"}
TIMINGS_PREFIX = "BENCH_TIMINGS "
SALT_ENV = "CIRRUS_PII_SALT"


class Store:
    """Named artifacts on disk, kept in memory too so a one-process run never re-reads them."""

    def __init__(self, root: Path) -> None:
        """Use `root` as the folder of every artifact."""
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._memory: dict[str, Any] = {}

    def save(self, name: str, value: Any, fmt: str | None = None) -> None:
        """Write an artifact (parquet, csv, json, text or plotly JSON) and keep it in memory."""
        self._memory[name] = value
        fmt = fmt or _default_format(value)
        path = self.root / f"{name}.{fmt}"
        if fmt == "parquet":
            value.to_parquet(path)
        elif fmt == "csv":
            value.to_csv(path, index=False)
        elif fmt == "json":
            path.write_text(json.dumps(value, indent=2))
        elif fmt == "plotly.json":
            value.write_json(path)
        else:
            path.write_text(value)

    def load(self, name: str) -> Any:
        """Return an artifact from memory, else from its file."""
        if name not in self._memory:
            self._memory[name] = _read(self._path_of(name))
        return self._memory[name]

    def _path_of(self, name: str) -> Path:
        """The single file holding an artifact."""
        matches = [p for p in self.root.glob(f"{name}.*") if p.name.split(".", 1)[0] == name]
        if len(matches) != 1:
            raise FileNotFoundError(f"artifact {name!r}: expected one file in {self.root}")
        return matches[0]


def _default_format(value: Any) -> str:
    """File format of a value: parquet for frames, json for dicts, text for strings."""
    if isinstance(value, pd.DataFrame):
        return "parquet"
    if isinstance(value, dict):
        return "json"
    if isinstance(value, str):
        return "txt"
    return "plotly.json"


def _read(path: Path) -> Any:
    """Read an artifact file by its extension."""
    suffix = path.name.split(".", 1)[1]
    if suffix == "parquet":
        return pd.read_parquet(path)
    if suffix == "csv":
        return pd.read_csv(path)
    if suffix == "json":
        return json.loads(path.read_text())
    return path.read_text()


@dataclass
class Context:
    """What every stage needs: parameters, raw file paths, the artifact store and the salt."""

    params: dict[str, Any]
    raw: dict[str, Path]
    store: Store
    salt: str | None = None
    project: Path = Path()
    timings: dict[str, float] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # what a variant derives once per run


def load_params(project: Path) -> dict[str, Any]:
    """Merge every conf/base/parameters*.yml of the project, like Kedro's `params:` keys."""
    params: dict[str, Any] = {}
    for path in sorted((project / "conf" / "base").glob("parameters*.yml")):
        params.update(yaml.safe_load(path.read_text()) or {})
    return params


def catalog_paths(project: Path, names: Iterable[str]) -> dict[str, Path]:
    """File paths declared in conf/base/catalog.yml, with its one global (data_root) filled in."""
    catalog = yaml.safe_load((project / "conf" / "base" / "catalog.yml").read_text())
    data_root = yaml.safe_load((project / "conf" / "base" / "globals.yml").read_text())["data_root"]
    return {
        name: project / catalog[name]["filepath"].replace("${globals:data_root}", data_root)
        for name in names
    }


def raw_paths(project: Path) -> dict[str, Path]:
    """Raw CSV paths declared in conf/base/catalog.yml, resolved against the project."""
    return catalog_paths(project, ("raw_reference", "raw_current"))


def run_stages(
    stages: dict[str, Callable[[Context], None]], names: list[str], ctx: Context
) -> None:
    """Run the named stages in order, recording each one's in-process seconds."""
    for name in names:
        start = time.perf_counter()
        stages[name](ctx)
        ctx.timings[name] = time.perf_counter() - start


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument(
        "--stage", required=True, help="a stage of the variant (its STAGES), all, or startup"
    )
    parser.add_argument("--project", type=Path, required=True, help="project copy with conf/")
    parser.add_argument("--out", type=Path, required=True, help="folder of the artifacts")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Import the variant (its imports are part of the timing) and run the requested stage(s)."""
    args = parse_args(argv)
    start = time.perf_counter()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    variant = importlib.import_module(VARIANTS[args.variant])
    ctx = Context(
        params=load_params(args.project),
        raw=raw_paths(args.project),
        store=Store(args.out),
        salt=os.environ.get(SALT_ENV),
        project=args.project,
    )
    ctx.timings["imports_and_config"] = time.perf_counter() - start
    if args.stage not in (*variant.STAGES, "all", "startup"):
        raise SystemExit(f"--stage {args.stage}: expected one of {[*variant.STAGES]}, all, startup")
    if args.stage != "startup":
        names = list(variant.STAGES) if args.stage == "all" else [args.stage]
        run_stages(variant.STAGES, names, ctx)
    print(TIMINGS_PREFIX + json.dumps(ctx.timings), flush=True)


if __name__ == "__main__":
    main()
