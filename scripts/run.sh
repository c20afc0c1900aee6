#!/usr/bin/env bash
# Install Cirrus and run the main job: generate the bundled demo data, then the full lifecycle
# (ingestion -> features -> training -> evaluation -> drift), its cost per cloud and the model
# card. Outputs land under data/.
# Once the raw entries of conf/base/catalog.yml point at your own files (`kedro cirrus
# init-contract` does that), the demo data is not regenerated: it would write over them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
demo=0
python -m cirrus.demo_data || demo=$?   # 0: the demo's own files; 3: the project's own data
case "$demo" in
  0) kedro run --pipelines demo_data ;;
  3) ;;
  *) exit "$demo" ;;
esac
kedro run "$@"
# What the run cost on each cloud (from its run record), then the model card built from it all.
kedro cirrus cost
kedro cirrus model-card
