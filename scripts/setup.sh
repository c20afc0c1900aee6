#!/usr/bin/env bash
# Install Cirrus into .venv from the lock file (requirements.lock, hash-pinned) and export the
# unattended-run settings.
# Sourced by the other scripts; safe to run again (a no-op when nothing changed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export KEDRO_DISABLE_TELEMETRY=true   # otherwise the telemetry plugin may edit pyproject.toml
export DVC_NO_ANALYTICS=1
UV_VERSION="0.13.9"

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
[ -x .venv/bin/python ] || uv venv --quiet --python python3 .venv
# Compiled bytecode up front: every `kedro` process otherwise recompiles its imports (about 10 s
# of CPU each when PYTHONDONTWRITEBYTECODE is set).
uv pip sync --quiet --compile-bytecode --python .venv/bin/python requirements.lock
uv pip install --quiet --python .venv/bin/python --no-deps -e .
# shellcheck disable=SC1091
source .venv/bin/activate

# A fresh clone has no credentials: give it a random PII salt, kept out of git in conf/local/.
if [ ! -f conf/local/credentials.yml ] && [ -z "${CIRRUS_PII_SALT:-}" ]; then
  python3 -c "import secrets; print('pii_salt: ' + secrets.token_hex(32))" \
    > conf/local/credentials.yml
  chmod 600 conf/local/credentials.yml
  echo "Wrote a random PII salt to conf/local/credentials.yml (never committed)."
fi
