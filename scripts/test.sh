#!/usr/bin/env bash
# Install Cirrus with its dev tools, lint, and run the whole test suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ruff check .
ruff format --check .
pytest "$@"
