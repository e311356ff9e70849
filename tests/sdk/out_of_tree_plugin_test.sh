#!/usr/bin/env bash
# Install the SDK to a temporary prefix, build examples/third_party_plugin
# against it from outside the source tree, and run it through the installed
# `genius` (found via GENIUS_PLUGIN_PATH and via the config's plugin_path).
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cp -r "$source_dir/examples/third_party_plugin" "$work/example"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$work/example" -B "$work/example/build" -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/example/build" -j2 >/dev/null

genius="$work/prefix/bin/genius"
listing=$(GENIUS_PLUGIN_PATH="$work/example/build" "$genius" plugins --json)
grep -q '"name": "hinge"' <<<"$listing" || { echo "hinge not listed:"; echo "$listing"; exit 1; }
grep -q '"name": "aco"' <<<"$listing" || { echo "installed plugins not found beside the installed genius"; exit 1; }

# Pair 1: r_w = 1, r_l = -1 -> max(0, 1 - 0.5*2) = 0; pair 2: r_w = 0.5, r_l = 0.5 -> 1. Mean 0.5.
result=$(GENIUS_PLUGIN_PATH="$work/example/build" "$genius" loss eval --plugin hinge --set loss.beta=0.5 \
           --input "$work/example/pairs.jsonl" --json)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert abs(r["loss"]-0.5)<1e-12, r; \
g=r["gradients"]["policy_chosen_logps"]; assert abs(g[0])<1e-12 and abs(g[1]+0.25)<1e-12, g' "$result"

# The example's own TOML finds the plugin through [run] plugin_path.
"$genius" config check "$work/example/hinge.toml"
"$genius" loss eval --config "$work/example/hinge.toml" --input "$work/example/pairs.jsonl" >/dev/null
echo "out-of-tree plugin: built, loaded and evaluated"
