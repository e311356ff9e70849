#!/usr/bin/env bash
# Regenerate the efficacy table docs/results.md: run the sweep
# configs/efficacy.toml (resuming it if it was interrupted), then tabulate it.
#   scripts/efficacy.sh [SWEEP_DIR]      (default runs/sweeps/efficacy)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=${1:-runs/sweeps/efficacy}
resume=()
[[ -f "$dir/sweep.json" ]] && resume=(--resume)
build/bin/genius sweep configs/efficacy.toml --out "$dir" "${resume[@]}"
python3 scripts/results_table.py "$dir" docs/results.md.body
# Hand-written findings live in docs/results-notes.md and follow the table.
cat docs/results.md.body docs/results-notes.md > docs/results.md.new && mv docs/results.md.new docs/results.md
rm -f docs/results.md.body
