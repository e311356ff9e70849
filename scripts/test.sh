#!/usr/bin/env bash
# Set up, build, and run the whole test suite (unit, integration, slow).
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh default
scripts/fetch-test-vocabularies.sh .cache/npm
# Headless Chromium renders report.html in a test.
if [[ ! -x /usr/bin/chromium ]]; then
  sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  install=(env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium)
  "${install[@]}" >/dev/null 2>&1 || { "${sudo[@]}" apt-get update -qq && "${install[@]}" >/dev/null; }
fi
ctest --preset default -j2 "$@"
# The unit, resume, honesty and failing-write tests again under ASan + UBSan
# (docs/reliability.md); skipped when ctest arguments pick a subset.
if (($# == 0)); then scripts/sanitize.sh; fi
# A 30-second smoke run of every fuzz target (libFuzzer + ASan + UBSan; docs/reliability.md).
scripts/fuzz.sh all 30
