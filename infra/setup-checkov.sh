#!/usr/bin/env bash
# Install checkov into its own virtual environment, .venv-checkov, from infra/checkov.lock
# (hash-pinned). checkov never goes into .venv: it pins an old boto3 that would downgrade s3fs.
# Safe to run again: a no-op while the lock is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-checkov
LOCK=infra/checkov.lock
PYTHON_VERSION="3.11"   # the version the lock was compiled for
STAMP="$VENV/.installed-lock-sha256"

command -v uv >/dev/null 2>&1 || { echo "uv not found: run scripts/setup.sh first" >&2; exit 1; }

lock_digest="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ -x "$VENV/bin/checkov" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$lock_digest" ]; then
  exit 0
fi

# Only an interpreter already on the machine: uv must not try to download one.
[ -x "$VENV/bin/python" ] || uv venv --quiet --python "$PYTHON_VERSION" \
  --python-preference only-system "$VENV"
uv pip sync --quiet --require-hashes --python "$VENV/bin/python" "$LOCK"
echo "$lock_digest" > "$STAMP"
