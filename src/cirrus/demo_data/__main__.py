"""`python -m cirrus.demo_data [--env ENV]`: may the demo data be generated here?

Exit 0 when every raw entry the demo writes still points at the demo's own file; exit 3, saying
why in one line, when one points at another file (the project runs on its own data).
`scripts/run.sh` asks this before it regenerates the demo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cirrus.demo_data.files import DEMO_FILES, foreign_entries

NOT_THE_DEMO = 3


def configured_entries(project: Path, env: str | None) -> tuple[dict[str, str | None], str]:
    """The demo entries' file paths in an environment's catalog, and its data root."""
    from cirrus import settings  # the project's loader and resolvers, as `kedro run` uses them

    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / "conf"), env=env, **settings.CONFIG_LOADER_ARGS
    )
    catalog = loader["catalog"]
    locations = {
        name: (catalog[name] or {}).get("filepath") for name in DEMO_FILES if name in catalog
    }
    return locations, str(loader["globals"].get("data_root", "data"))


def main(argv: list[str] | None = None) -> int:
    """Print nothing and return 0 when the demo may run; else one line and NOT_THE_DEMO."""
    parser = argparse.ArgumentParser(prog="python -m cirrus.demo_data", description=__doc__)
    parser.add_argument("--env", default=None, help="Kedro configuration environment")
    args = parser.parse_args(argv)
    project = Path.cwd()
    locations, root = configured_entries(project, args.env)
    foreign = foreign_entries(locations, root, project)
    if not foreign:
        return 0
    named = ", ".join(f"{name} reads {location}" for name, location in foreign.items())
    print(f"Demo data not regenerated: the project runs on its own data ({named}).")
    return NOT_THE_DEMO


if __name__ == "__main__":
    sys.exit(main())
