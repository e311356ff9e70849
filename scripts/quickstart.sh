#!/usr/bin/env bash
# Set up, build, and run the main job: the embedded quickstart
# (configs/quickstart.toml, docs/tasks.md) in a new run directory under runs/.
# Extra arguments go to `genius run` (e.g. --set run.iterations=1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh default
exec build/bin/genius run configs/quickstart.toml --out "runs/quickstart-$(date +%Y%m%d-%H%M%S)" "$@"
