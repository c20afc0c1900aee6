#!/usr/bin/env bash
# Install Cirrus with its dev tools, lint, and run the whole test suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Azurite (the Azure Blob emulator) comes from npm; S3 and GCS emulators are in the lock file.
npm install --prefix tests/emulators --no-audit --no-fund --silent
ruff check .
ruff format --check .
pytest "$@"
