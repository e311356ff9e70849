#!/usr/bin/env bash
# Install what Genius needs from Debian's packages (only what is missing),
# then configure and build with the given CMake preset (default: "default").
#
#   scripts/setup.sh [preset]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
preset=${1:-default}

packages=(
  g++ cmake make pkg-config ccache
  libtorch-dev libgloo-dev libopenblas0-pthread  # libgloo-dev: Gloo headers for c10d; OpenBLAS: ~15x faster matrix products than the reference BLAS
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libtomlplusplus-dev libspdlog-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  clang-format                            # the format_check test (scripts/lint.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"${GENIUS_BUILD_JOBS:-2}"
