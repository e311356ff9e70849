#!/usr/bin/env bash
# Set up, build, and run the whole test suite (unit, integration, slow).
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh default
scripts/fetch-test-vocabularies.sh build/npm
ctest --preset default -j2 "$@"
