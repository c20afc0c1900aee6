"""The Terraform of infra/terraform parsed with python-hcl2, and the variables generated for it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from cirrus.deploy.cloud_project import cloud_config
from cirrus.deploy.deploy_yml import DEPLOY_KEY, parse_deploy
from cirrus.deploy.plan import DeploymentPlan, Step
from cirrus.deploy.targets import terraform
from tests.conftest import REPO

INFRA = REPO / "infra" / "terraform"
CLOUDS = terraform.CLOUDS
# A storage root on S3 in another bucket than the DVC remote's: the variables then name two buckets.
STORAGE_ROOT = "s3://cirrus-data/cirrus"
CI_REPOSITORY = "acme/credit-scoring"
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
FOR_LIST = re.compile(r'^\$\{\[for (\w+) in ([\w.]+) : "(.*)"\]\}$')


@dataclass(frozen=True)
class Block:
    """One resource, data source or module call: its kind, type, name, body and file."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: Path


def unquoted(value: Any) -> Any:
    """python-hcl2 keeps the quotes of labels and literal strings: drop them, recursively."""
    if isinstance(value, dict):
        return {str(k).strip('"'): unquoted(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquoted(v) for v in value]
    if isinstance(value, str) and len(value) > 1 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


@cache
def parse_file(path: Path) -> dict[str, Any]:
    """One .tf file, parsed once per session (python-hcl2 takes about 0.1 s a file)."""
    return unquoted(hcl2.loads(path.read_text()))


def parse_folder(folder: Path) -> list[dict[str, Any]]:
    """Every .tf file under a folder (modules included), parsed."""
    return [{**parse_file(path), "__file__": path} for path in sorted(folder.rglob("*.tf"))]


def blocks_of(folder: Path) -> list[Block]:
    """Resources, data sources and module calls of a cloud's Terraform."""
    found = []
    for parsed in parse_folder(folder):
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        found.append(Block(kind, type_, name, body, parsed["__file__"]))
        for entry in parsed.get("module", []):
            for name, body in entry.items():
                found.append(Block("module", "module", name, body, parsed["__file__"]))
    return found


def variables_of(folder: Path) -> dict[str, dict[str, Any]]:
    """The root module's variables (not its local modules')."""
    declared = {}
    for path in sorted(folder.glob("*.tf")):
        for entry in parse_file(path).get("variable", []):
            declared.update(entry)
    return declared


def locals_of(folder: Path) -> dict[str, Any]:
    """The root module's locals."""
    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf")):
        for entry in parse_file(path).get("locals", []):
            found.update(entry)
    return found


def block(blocks: list[Block], type_: str, name: str) -> Block:
    """The one block of a type and name."""
    (found,) = [b for b in blocks if b.type == type_ and b.name == name]
    return found


def statements(document: Block) -> list[dict[str, Any]]:
    """The statements of an aws_iam_policy_document, dynamic ones included."""
    found = list(document.body.get("statement", []))
    for dynamic in document.body.get("dynamic", []):
        if "statement" not in dynamic:
            continue
        (content,) = dynamic["statement"]["content"]
        # `for_each = cond ? [local.x] : []`: statement.value is local.x (when the statement exists)
        each = re.search(r"\[(local\.\w+)\]", dynamic["statement"]["for_each"])
        value = f"${{{each.group(1)}}}" if each else "<statement.value>"
        found.append(
            {
                k: v.replace("${statement.value}", value)
                if isinstance(v, str)
                else [x.replace("${statement.value}", value) for x in v]
                if isinstance(v, list)
                else v
                for k, v in content.items()
            }
        )
    return found


def allowed(document: Block) -> list[dict[str, Any]]:
    """The statements that allow (a Deny widens nothing)."""
    return [s for s in statements(document) if s.get("effect", "Allow") == "Allow"]


class Resolver:
    """Replaces ${var.x} and ${local.y} in an expression with the generated values."""

    def __init__(self, values: dict[str, Any], local_values: dict[str, Any]) -> None:
        self.values, self.locals = values, local_values

    def list(self, expression: Any) -> list[str]:
        """An expression that is a string, a list, or a `[for x in var.list : "..."]`."""
        if isinstance(expression, list):
            return [item for e in expression for item in self.list(e)]
        match = FOR_LIST.match(str(expression))
        if match:
            name, source, template = match.groups()
            return [
                self.text(template.replace(f"${{{name}}}", str(v)))
                for v in self.list(f"${{{source}}}")
            ]
        whole = INTERPOLATION.fullmatch(str(expression))
        if whole:
            value = self.lookup(whole.group(1))
            if isinstance(value, list):
                return [item for v in value for item in self.list(v)]
            if isinstance(value, str) and value.startswith("${"):
                return self.list(value)
        return [self.text(str(expression))]

    def text(self, expression: str) -> str:
        """A string expression with every known reference replaced."""
        return INTERPOLATION.sub(lambda m: str(self.lookup(m.group(1))), expression)

    def lookup(self, reference: str) -> Any:
        """The value of var.x or local.y (an unknown reference stays as it was)."""
        kind, _, name = reference.partition(".")
        if kind == "var" and name in self.values:
            return self.values[name]
        if kind == "local" and name in self.locals:
            value = self.locals[name]
            return self.text(value) if isinstance(value, str) and "[for" not in value else value
        return f"<{reference}>"


def matches(pattern: str, name: str) -> bool:
    """Whether an IAM resource pattern (`*` spans '/') covers a name."""
    return fnmatchcase(name, pattern)


def declared_plan(storage_root: str = STORAGE_ROOT) -> DeploymentPlan:
    """The committed deploy.yml as a plan, one step per declared pipeline (grouping: pipeline)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIRRUS_STORAGE_ROOT", storage_root)
        deploy = parse_deploy(cloud_config(REPO)[DEPLOY_KEY][DEPLOY_KEY])
    steps = tuple(
        Step(name, (), (), (), (), deploy.resources_for(name)) for name in deploy.pipelines
    )
    return DeploymentPlan(
        name=deploy.name,
        image=deploy.image,
        storage_root=storage_root,
        steps=steps,
        schedule=deploy.schedule,
        region=deploy.region,
        service_account=deploy.service_account,
        env=deploy.env,
        secret_env=deploy.secret_env,
        targets=deploy.targets,
    )


def committed_catalog(storage_root: str = STORAGE_ROOT) -> dict[str, Any]:
    """conf/base/catalog.yml resolved on a storage root."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIRRUS_STORAGE_ROOT", storage_root)
        return dict(cloud_config(REPO)["catalog"])


@pytest.fixture(scope="module")
def plan() -> DeploymentPlan:
    """The committed declaration as a plan."""
    return declared_plan()


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    """The committed catalog on STORAGE_ROOT."""
    return committed_catalog()


@pytest.fixture(scope="module")
def tfvars(plan: DeploymentPlan, catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The variables `kedro cirrus export terraform` writes for the committed declaration."""
    return terraform.tfvars(plan, catalog, terraform.dvc_remotes(REPO), CI_REPOSITORY)


@pytest.fixture(scope="module")
def hcl() -> dict[str, list[Block]]:
    """Each cloud's blocks."""
    return {cloud: blocks_of(INFRA / cloud) for cloud in CLOUDS}


@pytest.fixture(scope="module")
def resolvers(tfvars: dict[str, dict[str, Any]]) -> dict[str, Resolver]:
    """Each cloud's resolver of variables and locals."""
    return {cloud: Resolver(tfvars[cloud], locals_of(INFRA / cloud)) for cloud in CLOUDS}
