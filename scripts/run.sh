#!/usr/bin/env bash
# Install Cirrus and run the main job: generate the bundled demo data, then the full lifecycle
# (ingestion -> features -> training -> evaluation -> drift). Outputs land under data/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
kedro run --pipelines demo_data
kedro run "$@"
