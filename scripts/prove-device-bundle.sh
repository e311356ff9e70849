#!/usr/bin/env bash
# Prove the dependency bundle here: build the whole project with the `bundle`
# preset (Debian's libtorch + .cache/device-bundle/, build-bundle/), check that
# no header or library of a bundled package came from the system instead, and
# run the suite on that build.
#   scripts/prove-device-bundle.sh [ctest args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d .cache/device-bundle/usr ]] || scripts/make-device-bundle.sh
cmake --preset bundle >/dev/null
cmake --build --preset bundle -j"${GENIUS_BUILD_JOBS:-2}"
# Headers: the compiler's dependency files name no system copy of a bundled package.
system=$(find build-bundle -name '*.o.d' -print0 | xargs -0 cat | tr ' \\' '\n\n' |
  grep -E '^/usr/include/(boost|spdlog|fmt|toml\+\+|nlohmann|gtest|gmock)/|^/usr/include/(pcre2|utf8proc|zlib|zconf)\.h$' |
  sort -u || true)
if [[ -n $system ]]; then
  echo "prove-device-bundle: these headers came from the system, not the bundle:" >&2
  echo "$system" | head -20 >&2
  exit 1
fi
# Libraries: the executable and the backend resolve the bundled ones from the bundle.
for binary in build-bundle/bin/genius build-bundle/lib/genius/plugins/libgenius_backend_torch_llama.so; do
  outside=$(ldd "$binary" | grep -E 'lib(boost_|spdlog|fmt|tomlplusplus|pcre2-8|utf8proc|z\.so)' |
    grep -v "$PWD/.cache/device-bundle/" || true)
  if [[ -n $outside ]]; then
    echo "prove-device-bundle: $binary loads these from outside the bundle:" >&2
    echo "$outside" >&2
    exit 1
  fi
done
echo "prove-device-bundle: every bundled header and library came from .cache/device-bundle/"
ctest --preset bundle -j2 "$@"
