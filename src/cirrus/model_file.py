"""A model file is checked before LightGBM's parser sees it in a serving or scoring process.

LightGBM parses a model's trees on several threads; a truncated or corrupted file makes a parser
thread throw, and the C++ runtime then aborts the whole process ("terminate called without an
active exception", exit 134): a server dies with every request after it refused. So a model file
read from disk is first checked here, in this process, for what can be checked without parsing
(the header's fields, that every tree is whole, that the file ends as LightGBM ends it, and that
it fits the feature spec), then parsed and given one prediction in a child process. Only a file
that passes both is parsed in this process.
"""

from __future__ import annotations

import subprocess
import sys

from cirrus.errors import CirrusError
from cirrus.feature_spec import FeatureSpec

TREES_START = "Tree=0\n"
TREES_END = "end of trees\n"
PARAMETERS_END = "\nend of parameters\n"
LAST_SECTION = "\npandas_categorical:"
REQUIRED_FIELDS = ("version", "num_class", "num_tree_per_iteration", "max_feature_idx")
CHILD_SECONDS = 120
# Parses the model text from stdin and predicts one row of zeros: exit 0 when LightGBM can.
CHILD_CHECK = (
    "import sys, numpy, lightgbm\n"
    "booster = lightgbm.Booster(model_str=sys.stdin.read())\n"
    "booster.predict(numpy.zeros((1, booster.num_feature())), num_threads=1)\n"
)


class ModelFileError(CirrusError):
    """A model file is damaged or does not belong to the feature spec beside it."""

    hint = "Train again (`kedro run`) or restore the model with `dvc checkout`."


def header_fields(text: str) -> dict[str, str]:
    """The `key=value` lines of a LightGBM model's header (before the first blank line)."""
    head = text.split("\n\n", 1)[0].split("\n")
    if not head or head[0] != "tree":
        raise ModelFileError("it does not start as a LightGBM model (first line 'tree')")
    return dict(line.split("=", 1) for line in head[1:] if "=" in line)


def _integer(fields: dict[str, str], key: str) -> int:
    """A header field as an integer, or a ModelFileError naming it."""
    try:
        return int(fields[key])
    except (KeyError, ValueError):
        raise ModelFileError(f"its header has no valid '{key}'") from None


def tree_problems(text: str, fields: dict[str, str]) -> list[str]:
    """What is wrong with the trees: the byte sizes the header lists must add up exactly."""
    try:
        sizes = [int(size) for size in fields.get("tree_sizes", "").split()]
    except ValueError:
        return ["its header's tree_sizes are not numbers"]
    start, end = text.find(TREES_START), text.find(TREES_END)
    if not sizes or start < 0 or end < 0:
        return ["it holds no complete tree section (cut short?)"]
    section = len(text[start:end].encode())
    if sum(sizes) != section:
        return [f"its {len(sizes)} trees take {section} bytes, the header says {sum(sizes)}"]
    per_iteration = _integer(fields, "num_tree_per_iteration")
    if per_iteration < 1 or len(sizes) % per_iteration:
        return [f"{len(sizes)} trees are not whole iterations of {per_iteration}"]
    return []


def spec_problems(fields: dict[str, str], spec: FeatureSpec) -> list[str]:
    """Where the header disagrees with the feature spec the model is served with."""
    problems = []
    classes = len(spec.class_names()) if spec.task == "multiclass" else 1
    declared = _integer(fields, "num_class")
    if declared != classes:
        problems.append(f"num_class={declared}, but the {spec.task} task needs {classes}")
    if _integer(fields, "num_tree_per_iteration") != classes:
        problems.append(f"num_tree_per_iteration is not {classes}")
    names = fields.get("feature_names", "").split()
    if names != list(spec.feature_columns):
        problems.append(
            f"its {len(names)} features are not the feature spec's "
            f"{len(spec.feature_columns)} (in order)"
        )
    if _integer(fields, "max_feature_idx") != len(names) - 1:
        problems.append("max_feature_idx does not match feature_names")
    return problems


def structure_problems(text: str, spec: FeatureSpec) -> list[str]:
    """Everything checkable without LightGBM's parser, as readable phrases."""
    fields = header_fields(text)
    missing = [key for key in REQUIRED_FIELDS if key not in fields]
    if missing:
        return [f"its header lacks {', '.join(missing)}"]
    problems = tree_problems(text, fields)
    if PARAMETERS_END not in text or LAST_SECTION not in text or not text.endswith("\n"):
        problems.append("it does not end as LightGBM ends a model (cut short?)")
    return problems + spec_problems(fields, spec)


def child_parse_problem(text: str) -> str | None:
    """Parse and predict in a child process: why it failed there, or None."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD_CHECK],
            input=text,
            capture_output=True,
            text=True,
            timeout=CHILD_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return f"LightGBM did not load it within {CHILD_SECONDS} s"
    if done.returncode == 0:
        return None
    last = (done.stderr.strip().splitlines() or ["no message"])[-1]
    how = f"aborted (signal {-done.returncode})" if done.returncode < 0 else "failed"
    return f"LightGBM {how} loading it: {last}"


def verify_model_text(text: str, spec: FeatureSpec, source: str = "the model") -> None:
    """Raise ModelFileError, naming `source`, unless the text is a whole LightGBM model that
    fits `spec` and that LightGBM loads and predicts with in a child process."""
    try:
        problems = structure_problems(text, spec)
    except ModelFileError as error:
        problems = [str(error)]
    if not problems:
        child = child_parse_problem(text)
        problems = [child] if child else []
    if problems:
        raise ModelFileError(f"{source} is refused before loading: {'; '.join(problems)}.")
