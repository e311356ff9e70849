#!/usr/bin/env bash
# report.html in a real browser: installs Debian's Chromium when it is missing
# (as root, or through passwordless sudo), then runs the ReportScreenshot tests
# of the given test binary (or the tests FILTER selects), which render pages,
# screenshot them headless and look for every chart's colour in the PNG.
#
#   tests/core/run/report_chromium_test.sh build/bin/genius_eval_report_tests
#   tests/core/run/report_chromium_test.sh build/bin/genius_sweep_tests 'SweepReportScreenshot.*'
set -euo pipefail
test_binary=${1:?usage: report_chromium_test.sh TEST_BINARY [FILTER]}
filter=${2:-ReportScreenshot.*}
chromium=${GENIUS_CHROMIUM:-/usr/bin/chromium}

if [[ ! -x $chromium ]]; then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "report_chromium_test: $chromium is missing and this user cannot install it;" \
           "run 'apt-get install chromium' as root, or set GENIUS_CHROMIUM to a Chromium binary" >&2
      exit 1
    fi
  fi
  echo "report_chromium_test: installing Debian's chromium package" >&2
  # A fresh machine may have no package lists yet.
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  [[ -x $chromium ]] || { echo "report_chromium_test: no Chromium at $chromium after installing" >&2; exit 1; }
fi

GENIUS_CHROMIUM=$chromium exec "$test_binary" --gtest_filter="$filter"
