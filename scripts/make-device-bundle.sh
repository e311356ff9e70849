#!/usr/bin/env bash
# The dependency bundle for a machine that has libtorch (a pip torch 2.x with
# CUDA, say) but none of the other libraries Genius builds against: Debian's
# Boost (program_options, filesystem, the headers Boost.DLL needs), toml++,
# spdlog + fmt, nlohmann-json, PCRE2, utf8proc, zlib and GoogleTest, their
# CMake package files and shared libraries, laid out as a /usr prefix.
#
#   scripts/make-device-bundle.sh [OUT.tar.xz]     default: .cache/device-bundle.tar.xz
#
# It reads what is installed here (scripts/setup.sh installs it). Of Boost it
# keeps only the headers the build includes: those named by the compiler's
# dependency files of a finished build in build/ (run scripts/setup.sh
# first), which keeps the bundle to a few MiB instead of Boost's 150. The
# bundle unpacks anywhere: `tar -xf BUNDLE -C DIR`, then configure with
# -DCMAKE_PREFIX_PATH="<libtorch>;DIR/usr" -DGENIUS_NO_PKG_CONFIG=ON (the
# `bundle` preset does this with Debian's libtorch, to prove it here;
# scripts/device-check.sh on the GPU machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-.cache/device-bundle.tar.xz}
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
lib=/usr/lib/$arch

ls build/CMakeFiles >/dev/null 2>&1 || { echo "make-device-bundle: build/ holds no build (run scripts/setup.sh)" >&2; exit 2; }
depfiles=$(find build -name '*.o.d' -print -quit)
[[ -n $depfiles ]] || { echo "make-device-bundle: no compiler dependency files (*.o.d) in build/" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/usr

# Every file of these packages but their documentation and Boost's headers.
packages=(
  libboost1.74-dev libboost-program-options1.74-dev libboost-program-options1.74.0
  libboost-filesystem1.74-dev libboost-filesystem1.74.0 libboost-system1.74-dev libboost-system1.74.0
  libtomlplusplus-dev libtomlplusplus3 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 nlohmann-json3-dev
  libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2 zlib1g-dev zlib1g libgtest-dev libgmock-dev googletest
)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "make-device-bundle: package $p is not installed here" >&2; exit 2; }
  dpkg -L "$p" | while IFS= read -r f; do
    [[ -f $f || -L $f ]] || continue
    case $f in
      /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/src/*) continue ;;
      /usr/include/boost/*) continue ;;  # below: only the headers the build uses
      /usr/* | /lib/*) ;;
      *) continue ;;
    esac
    dest=$stage/${f#/}
    dest=${dest/$stage\/lib\//$root\/lib\/}  # /lib/<arch> (zlib, pcre2) joins /usr/lib/<arch>
    mkdir -p "$(dirname "$dest")"
    cp -a "$f" "$dest"
  done
done

# Boost's headers: those the compiler read in build/.
find build -name '*.o.d' -print0 | xargs -0 cat | tr ' \\' '\n\n' | grep '^/usr/include/boost/' | sort -u |
  while IFS= read -r h; do
    mkdir -p "$root/include/$(dirname "${h#/usr/include/}")"
    cp -a "$h" "$root/include/${h#/usr/include/}"
  done

mkdir -p "$(dirname "$out")"
tar -cJf "$out" -C "$stage" usr
# Unpacked beside it too, where the `bundle` preset looks (OUT without .tar.xz).
rm -rf "${out%.tar.xz}"
mkdir -p "${out%.tar.xz}"
tar -xf "$out" -C "${out%.tar.xz}"
echo "wrote $out: $(du -h "$out" | cut -f1) ($(du -sh "$root" | cut -f1) unpacked, $(find "$root" -type f | wc -l) files;" \
  "$(find "$root/include/boost" -type f | wc -l) Boost headers)"
