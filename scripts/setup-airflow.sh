#!/usr/bin/env bash
# Install Airflow into its own virtual environment, .venv-airflow, from requirements-airflow.lock
# (hash-pinned). Airflow never goes into .venv: its pins clash with the project's (the Kubernetes
# provider needs another `kubernetes` client than the project's), and the DAGs that
# `kedro cirrus export airflow` writes import nothing from cirrus.
# Safe to run again: a no-op (well under a second) while the lock is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-airflow
LOCK=requirements-airflow.lock
PYTHON_VERSION="3.11"   # the version the lock was compiled for
STAMP="$VENV/.installed-lock-sha256"

command -v uv >/dev/null 2>&1 || { echo "uv not found: run scripts/setup.sh first" >&2; exit 1; }

lock_digest="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ -x "$VENV/bin/airflow" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$lock_digest" ]; then
  exit 0
fi

# Only an interpreter already on the machine: uv must not try to download one.
[ -x "$VENV/bin/python" ] || uv venv --quiet --python "$PYTHON_VERSION" \
  --python-preference only-system "$VENV"
# Bytecode compiled once here: every Airflow command imports thousands of modules, and with
# PYTHONDONTWRITEBYTECODE set Python would compile them again on each start.
uv pip sync --quiet --require-hashes --compile-bytecode --python "$VENV/bin/python" "$LOCK"
echo "$lock_digest" > "$STAMP"
