"""Writing what init-contract decided into a project: every block checked first, every file
written to a temporary name and moved into place together, put back if a move fails."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cirrus.catalog import PII_SALT_DATASET, PII_SALT_ENV, RAW_DATASETS, RAW_INFERENCE
from cirrus.contract_inference.decide import check_configuration, infer_configuration
from cirrus.contract_inference.outcome import ContractInferenceError, InferredConfig
from cirrus.contract_inference.read import read_options, read_table
from cirrus.contract_inference.render import (
    CATALOG_FILE,
    check_round_trip,
    dataset_type,
    render_catalog,
    render_contract,
    render_evaluation,
    render_features,
    render_ingestion,
)
from cirrus.parameters import CONTRACT_FILE, EVALUATION_FILE, FEATURES_FILE, INGESTION_FILE


def catalog_filepath(path: str, project: Path) -> str:
    """How the catalog names the file: a URL as is; a local file under the data root via
    `${globals:data_root}`, under the project relative to it, else absolute."""
    if "://" in path and not path.startswith("file://"):
        return path
    local = Path(path.removeprefix("file://")).expanduser()
    local = (local if local.is_absolute() else Path.cwd() / local).resolve()
    data_root = "data"
    globals_file = project / "conf" / "base" / "globals.yml"
    if globals_file.is_file():
        data_root = str((yaml.safe_load(globals_file.read_text()) or {}).get("data_root", "data"))
    if "://" not in data_root:
        root = (project / data_root).resolve()
        if local.is_relative_to(root):
            return "${globals:data_root}/" + local.relative_to(root).as_posix()
    project = project.resolve()
    if local.is_relative_to(project):
        return local.relative_to(project).as_posix()
    return local.as_posix()


def _salt_configured(project: Path) -> bool:
    """Whether a PII salt is set (env PII_SALT_ENV, or `pii_salt` in conf/local/credentials.yml)."""
    if os.environ.get(PII_SALT_ENV):
        return True
    credentials = project / "conf" / "local" / "credentials.yml"
    if not credentials.is_file():
        return False
    try:
        return bool((yaml.safe_load(credentials.read_text()) or {}).get(PII_SALT_DATASET))
    except yaml.YAMLError:
        return False


@dataclass
class Written:
    """The outcome of init-contract: what was inferred, and the files written."""

    config: InferredConfig
    files: list[str]
    warnings: list[str]
    notes: list[str] = field(default_factory=list)


def _shadowing_overrides(project: Path) -> list[str]:
    """conf/local files that would override what init-contract writes."""
    found = []
    local = project / "conf" / "local"
    for path in sorted(local.glob("parameters*.yml")) + sorted(local.glob("catalog*.yml")):
        try:
            keys = set(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError:
            continue
        shadowed = keys & {
            "contract",
            "ingestion",
            "holdout",
            "features",
            "evaluation",
            *RAW_DATASETS,
            RAW_INFERENCE,
        }
        if shadowed:
            rel = path.relative_to(project).as_posix()
            found.append(f"{rel} overrides {sorted(shadowed)}: its values win over those written")
    return found


def check_evaluation(before: str, after: str) -> None:
    """The evaluation settings differ at most by `threshold` (the only key written there)."""
    old = (yaml.safe_load(before) or {}).get("evaluation") or {}
    new = (yaml.safe_load(after) or {}).get("evaluation") or {}
    if before == after:
        return
    if new.get("threshold") != "auto" or {k: v for k, v in new.items() if k != "threshold"} != {
        k: v for k, v in old.items() if k != "threshold"
    }:
        raise ContractInferenceError(
            f"Could not set evaluation.threshold in {EVALUATION_FILE} without changing other "
            "settings; set `threshold: auto` there by hand."
        )


def _replace_all(contents: dict[Path, str]) -> None:
    """Write every file to a temporary name, then move them all into place; on a failed move,
    put back the ones already moved."""
    temporary = {}
    try:
        for path, text in contents.items():
            temp = path.with_name(f".{path.name}.init-contract.tmp")
            temp.write_text(text)
            temporary[path] = temp
        previous = {path: path.read_text() if path.exists() else None for path in contents}
        moved = []
        try:
            for path, temp in temporary.items():
                os.replace(temp, path)
                moved.append(path)
        except BaseException:
            for path in moved:
                if previous[path] is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(previous[path])
            raise
    finally:
        for temp in temporary.values():
            temp.unlink(missing_ok=True)


def write_configuration(
    project: Path,
    path: str,
    target: str,
    task: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    time_zone: str = "UTC",
    force: bool = False,
) -> Written:
    """Infer the configuration of a data file and write it into the project's conf/base."""
    frame, file_type = read_table(path, read_options(project))
    config = infer_configuration(
        frame,
        path,
        file_type,
        target,
        task=task,
        id_column=id_column,
        time_column=time_column,
        hash_pii=_salt_configured(project),
        time_zone=time_zone,
    )
    check_configuration(config, frame)
    catalog_path = project / CATALOG_FILE
    catalog_text = catalog_path.read_text() if catalog_path.exists() else ""
    contract_text = render_contract(config)
    ingestion_text = render_ingestion(config)
    features_text = render_features(config)
    check_round_trip(contract_text, {"contract": config.contract}, CONTRACT_FILE)
    check_round_trip(ingestion_text, {"ingestion": {"split": config.split}}, INGESTION_FILE)
    check_round_trip(
        features_text, {"holdout": config.holdout, "features": config.features}, FEATURES_FILE
    )
    evaluation_path = project / EVALUATION_FILE
    evaluation_before = evaluation_path.read_text() if evaluation_path.exists() else ""
    evaluation_text = render_evaluation(evaluation_before, config.dataset_contract.task)
    check_evaluation(evaluation_before, evaluation_text)
    contents = {
        project / CONTRACT_FILE: contract_text,
        project / INGESTION_FILE: ingestion_text,
        project / FEATURES_FILE: features_text,
        **({evaluation_path: evaluation_text} if config.dataset_contract.task == "binary" else {}),
        catalog_path: render_catalog(
            catalog_text,
            dataset_type(file_type, catalog_text),
            catalog_filepath(path, project),
            path,
        ),
    }
    changed = {
        target_path: text
        for target_path, text in contents.items()
        if not target_path.exists() or target_path.read_text() != text
    }
    existing = [p for p in changed if p.exists()]
    if existing and not force:
        names = ", ".join(p.relative_to(project).as_posix() for p in existing)
        raise ContractInferenceError(
            f"Not written: {names} already exist and would change (the committed conf is the "
            "demo's); nothing was changed. Rerun with --force to replace them (git keeps the "
            "previous versions).",
            hint="After --force, `git diff conf/` shows what was replaced.",
        )
    _replace_all(changed)
    files = [p.relative_to(project).as_posix() for p in contents]
    notes = [
        f"{RAW_INFERENCE} (the rows `kedro run --pipelines inference` scores) now reads {path} "
        "too, so batch scoring works once `kedro run` has trained a model; point it at your new, "
        f"unlabelled rows in {CATALOG_FILE} when you have them."
    ]
    if config.dataset_contract.task == "binary":
        notes.append(
            f"evaluation.threshold is auto in {EVALUATION_FILE}: the decision threshold is the "
            "one threshold_rule picks on validation rows (0.5 suits balanced classes only)."
        )
    return Written(config, files, _shadowing_overrides(project), notes)
