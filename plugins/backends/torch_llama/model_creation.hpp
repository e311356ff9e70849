// torch-llama's side of `genius init-model` and `genius pretrain`: the model
// keys of a new model (PluginManifest::model_keys) and create_model, which
// writes a complete Hugging Face model directory: a tokenizer (a byte-level
// one, or a copy of a tokenizer.json), config.json and random weights.
#pragma once

#include <cstdint>
#include <filesystem>

#include <genius/config.hpp>
#include <genius/manifest.hpp>

namespace genius::llama {

/// Declare the model keys on `manifest` (after `.model_creation()`).
void add_model_keys(PluginManifest& manifest);

/// Write a new model described by `keys` (the validated model keys) into
/// `out` (created), its weights drawn from `seed`. Throws genius::PluginError
/// naming `plugin` on a bad key value or an unreadable tokenizer.
void create_model(const ConfigView& keys, std::uint64_t seed, const std::filesystem::path& out,
                  const std::string& plugin);

}  // namespace genius::llama
