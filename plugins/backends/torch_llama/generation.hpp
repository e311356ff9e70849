// Batched generation with a KV cache.
//
// All requests are prefilled together (left-padded to one timeline), then
// the cache rows of each prompt are duplicated for its `n` samples, so a
// prompt's prefill is computed once however many samples it has. Each decode
// step runs one token for every unfinished sample; finished samples leave the
// batch (their cache rows are dropped) so long tails do not pay for short ones.
//
// Log-probs are the model's own: log_softmax of the raw logits (temperature
// 1, no top-p), whatever the sampling settings; temperature and top-p only
// shape the choice of the token.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <genius/types.hpp>

#include "llama_model.hpp"

namespace genius::llama {

struct GenerationOptions {
  std::set<TokenId> eos_ids;
  /// Decode generated ids to text (special tokens skipped); used for stop strings.
  std::function<std::string(const std::vector<TokenId>&)> decode;
  /// Largest number of rows in one forward pass (0 = no limit). Requests are
  /// processed in groups whose total samples stay within it.
  std::int64_t max_batch_rows = 0;
};

std::vector<GenerationResult> generate(CausalLm& model, const std::vector<GenerationRequest>& requests,
                                       const GenerationOptions& options);

/// Seed of sample `index` of a request seeded with `seed`: samples are
/// independent of which other requests share the batch.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t index);

}  // namespace genius::llama
