#!/usr/bin/env bash
# The project's own style checks (docs/architecture.md#habits).
#   scripts/lint.sh --format   formatting of every C++ file against .clang-format (CI runs this
#                              through the ctest test `format_check`)
#   scripts/lint.sh --fix      apply .clang-format to every C++ file
#   scripts/lint.sh --tidy     clang-tidy (.clang-tidy's checks) on the project's own translation
#                              units, from build/compile_commands.json (a configured build)
#   scripts/lint.sh            --format, then --tidy
# The new-plugin templates (core/app/scaffold/) are not C++ until their @NAME@ placeholders are
# filled in, so they are left out; their generated projects are built with -Werror by a test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=${1:-all}

sources() {
  git ls-files -- 'core/*.cpp' 'core/*.hpp' 'sdk/*.hpp' 'plugins/*.cpp' 'plugins/*.hpp' 'tests/*.cpp' 'tests/*.hpp' \
    'examples/*.cpp' 'examples/*.hpp' | grep -v '^core/app/scaffold/'
}

format_check() {
  local bad=()
  while read -r f; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done < <(sources)
  if ((${#bad[@]})); then
    printf 'lint: %d file(s) differ from .clang-format (scripts/lint.sh --fix):\n' "${#bad[@]}" >&2
    printf '  %s\n' "${bad[@]}" >&2
    return 1
  fi
  echo "lint: $(sources | wc -l) files match .clang-format"
}

tidy() {
  [[ -f build/compile_commands.json ]] || { echo "lint: configure a build first (scripts/setup.sh)" >&2; return 1; }
  local units
  units=$(sources | grep '\.cpp$' | grep -v '^tests/')
  run-clang-tidy -quiet -p build -j "${GENIUS_BUILD_JOBS:-2}" $units
}

case "$mode" in
  --format) format_check ;;
  --fix) sources | xargs clang-format -i ;;
  --tidy) tidy ;;
  all) format_check && tidy ;;
  *) echo "usage: scripts/lint.sh [--format | --fix | --tidy]" >&2; exit 2 ;;
esac
