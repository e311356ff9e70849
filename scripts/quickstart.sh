#!/usr/bin/env bash
# Set up, build, and run the main job. Until the quickstart config exists
# (the embedded task and base model, issue #5) the main job lists the plugins.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh default
if [[ -f configs/quickstart.toml ]]; then
  exec build/bin/genius run configs/quickstart.toml "$@"
fi
exec build/bin/genius plugins
