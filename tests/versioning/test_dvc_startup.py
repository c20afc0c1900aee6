"""What keeps a no-op `dvc repro` fast."""

from __future__ import annotations


def test_dvc_parses_yaml_with_libyaml() -> None:
    # DVC loads dvc.yaml and dvc.lock with ruamel.yaml's safe loader on every call: without its
    # C extension that is pure Python, 40% of a no-op `dvc repro` on the default data.
    from ruamel.yaml import YAML

    assert YAML(typ="safe").Parser.__name__ == "CParser"
