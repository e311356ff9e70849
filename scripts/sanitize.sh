#!/usr/bin/env bash
# Build everything with AddressSanitizer + UndefinedBehaviorSanitizer (the
# asan preset, into build-asan/) and run under them every unit test and the
# run-level tests of resuming after kill -9, of honesty and of failing writes
# (docs/reliability.md). About 15 minutes of building and 5 of tests on 2 cores.
#   scripts/sanitize.sh [ctest args...]      e.g. scripts/sanitize.sh -R Tokenizer
# Assumes scripts/setup.sh has installed the dependencies and
# scripts/fetch-test-vocabularies.sh the vocabularies (scripts/test.sh does both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake --preset asan >/dev/null
cmake --build --preset asan -j"${GENIUS_BUILD_JOBS:-2}"
# format_check and the contract lock look at sources, not at a build: the
# default build's run is enough.
tests='^(run_resume_after_sigkill|run_never_reads_answers|run_failing_write)$'
if (($#)); then
  ctest --preset asan -j2 "$@"
else
  ctest --preset asan -j2 -L unit -E '^(format_check|sdk_contract_lock)$'
  ctest --preset asan -j2 -R "$tests"
fi
