// Batched generation: continuous batching over a KV cache, with an optional
// prefix cache.
//
// Every sample of every request is a row. Rows are admitted while the batch
// has room (`max_batch_rows`): a request's prompt is prefilled once for the
// samples admitted together, starting from the longest prefix the prefix
// cache holds, and the prompt enters the cache. Each decode step then runs
// one token for every live row. A finished row leaves at once (the last live
// row takes its slot, so a step never computes a finished row), its sequence
// enters the prefix cache, and waiting requests take the free rows.
//
// Log-probs are the model's own: log_softmax of the raw logits (temperature
// 1, no top-p), whatever the sampling settings; temperature and top-p only
// shape the choice of the token. A sample's tokens depend only on its request
// and seed, not on which rows share its steps (up to float summation order).
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <genius/types.hpp>

#include "llama_model.hpp"
#include "prefix_cache.hpp"

namespace genius::llama {

/// Text of a sample's tokens, fed one at a time: each call returns the text
/// the token completes.
using TextStream = std::function<std::string(TokenId)>;

struct GenerationOptions {
  std::set<TokenId> eos_ids;
  /// Decode generated ids to text (special tokens skipped): a sample's text.
  std::function<std::string(const std::vector<TokenId>&)> decode;
  /// Largest number of rows in one forward pass (0 = no limit).
  std::int64_t max_batch_rows = 0;
  /// Makes a row's incremental decoder for stop strings; when empty, each
  /// step decodes the row's whole sample again.
  std::function<TextStream()> make_stream;
  /// Reused and filled when set; must belong to this model's current weights.
  PrefixCache* prefix_cache = nullptr;
  /// Counters, added to when set (kv_bytes and kv_bytes_peak updated).
  GenerationStats* stats = nullptr;
};

std::vector<GenerationResult> generate(CausalLm& model, const std::vector<GenerationRequest>& requests,
                                       const GenerationOptions& options);

/// Seed of sample `index` of a request seeded with `seed`: samples are
/// independent of which other requests share the batch.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t index);

}  // namespace genius::llama
