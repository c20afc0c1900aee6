"""The `dask` environment (`kedro run --env dask`): the same pipelines on a Dask cluster.

The large tables are partitioned Parquet folders read and written as Dask DataFrames
(`cirrus.dask.datasets`); each node that receives one runs its partition-wise variant
(`cirrus.dask.dispatch.on_dask`), and the run connects to its cluster first
(`cirrus.dask.cluster`, configured in conf/dask/dask.yml). Nothing here is imported on the
pandas path: the modules that import Dask are loaded only when a Dask frame arrives.
"""
