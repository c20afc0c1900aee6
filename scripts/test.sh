#!/usr/bin/env bash
# Install Cirrus with its dev tools and what the tests need, lint, and run the whole test suite.
set -euo pipefail

# Debian's Chromium renders Kedro-Viz in the browser tests (no browser download from elsewhere).
# Checked first, so that a missing browser stops the run before the long install.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "scripts/test.sh: the browser tests need Debian's Chromium, which is not installed." >&2
    echo "Install it with:  sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Azurite (the Azure Blob emulator) comes from npm; S3 and GCS emulators are in the lock file.
npm install --prefix tests/emulators --no-audit --no-fund --silent
# checkov (the infra/terraform checks) in its own environment, .venv-checkov: it pins an old boto3.
bash infra/setup-checkov.sh
ruff check .
ruff format --check .
pytest "$@"
