"""The cluster settings of conf/dask/dask.yml, the node dispatch, and the pandas path's
independence from Dask."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from cirrus.dask.cluster import SCHEDULER_ENV, DaskConfigError, parse_settings
from cirrus.dask.dispatch import is_dask, on_dask
from tests.conftest import REPO


def test_the_committed_settings_parse() -> None:
    raw = yaml.safe_load((REPO / "conf" / "dask" / "dask.yml").read_text())

    settings = parse_settings(raw)

    assert settings is not None
    assert settings.local_cluster.n_workers == 2
    assert settings.address() is None


def test_no_dask_block_is_the_pandas_path() -> None:
    assert parse_settings({}) is None
    assert parse_settings(None) is None


def test_a_misspelt_key_is_named() -> None:
    with pytest.raises(DaskConfigError, match=r"dask\.local_cluster\.n_worker"):
        parse_settings({"dask": {"local_cluster": {"n_worker": 3}}})


def test_the_environment_names_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings({"dask": {"scheduler_address": "tcp://from-file:8786"}})
    assert settings is not None and settings.address() == "tcp://from-file:8786"

    monkeypatch.setenv(SCHEDULER_ENV, "tcp://from-env:8786")

    assert settings.address() == "tcp://from-env:8786"


def test_dispatch_keeps_pandas_frames_on_the_pandas_body() -> None:
    calls = []

    @on_dask("cirrus.no_such_module:never")
    def count(frame: pd.DataFrame) -> int:
        calls.append("pandas")
        return len(frame)

    assert count(pd.DataFrame({"a": [1, 2]})) == 2
    assert calls == ["pandas"]
    assert not is_dask(pd.DataFrame())


def test_dispatch_sends_dask_frames_to_the_variant() -> None:
    import dask.dataframe as dd

    @on_dask("cirrus.dask.frames:row_count")
    def rows(frame: pd.DataFrame) -> int:
        raise AssertionError("the pandas body must not see a Dask frame")

    frame = dd.from_pandas(pd.DataFrame({"a": range(10)}), npartitions=3)

    assert is_dask(frame)
    assert rows(frame) == 10


PANDAS_ONLY = """
import sys
import pandas as pd
import cirrus.settings
from cirrus.catalog import stage_pipelines
from cirrus.feature_spec import build_features
stage_pipelines()
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))
print(loaded)
"""


def test_the_pandas_path_never_imports_dask() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PANDAS_ONLY], capture_output=True, text=True, cwd=REPO
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_workers_are_read_from_the_scheduler_not_the_clients_cache() -> None:
    """`client.scheduler_info()` may return the client's periodic refresh, which lists no
    worker: a watch on it took two live workers for lost, 18 minutes into a 30M-row training."""
    import dask
    from distributed import Client, LocalCluster

    from cirrus.dask.cluster import workers_now

    # The client refreshes its cached identity every 5 ms instead of every 2 s, so a read
    # that raced with a refresh would show up within these reads.
    with (
        dask.config.set({"distributed.client.scheduler-info-interval": "5ms"}),
        LocalCluster(
            n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        seen = [len(workers_now(client)) for _ in range(2000)]
    assert set(seen) == {2}
