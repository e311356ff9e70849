#include "plugins/checked_backend.hpp"

#include <cmath>
#include <string>

#include <ATen/core/Tensor.h>

#include <genius/error.hpp>

namespace genius::core {

CheckedBackend::CheckedBackend(std::shared_ptr<ModelBackend> inner) : inner_(std::move(inner)) {
  detail::PluginAccess::set_name(*this, inner_->name());
}

void CheckedBackend::fail(const std::string& message) const {
  if (caller_.empty()) throw PluginError(name(), message);
  throw PluginError(caller_, "backend '" + name() + "': " + message);
}

void CheckedBackend::count_scored(const std::vector<ScoringExample>& batch) {
  for (const ScoringExample& e : batch)
    scored_tokens_ += static_cast<std::int64_t>(e.prompt_ids.size() + e.response_ids.size());
}

std::vector<GenerationResult> CheckedBackend::generate(const std::vector<GenerationRequest>& requests) {
  if (requests.empty()) return {};
  const auto start = std::chrono::steady_clock::now();
  std::vector<GenerationResult> results = inner_->generate(requests);
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++calls_;
  for (const GenerationRequest& r : requests) prompt_tokens_ += static_cast<std::int64_t>(r.prompt_ids.size());
  if (results.size() != requests.size())
    fail("generate returned " + std::to_string(results.size()) + " results for " + std::to_string(requests.size()) +
         " requests");
  const std::int64_t vocab = inner_->vocab_size();
  for (std::size_t r = 0; r < results.size(); ++r) {
    const auto& samples = results[r].samples;
    if (samples.size() != static_cast<std::size_t>(requests[r].n))
      fail("generate returned " + std::to_string(samples.size()) + " samples for request " + std::to_string(r) +
           ", which asked for " + std::to_string(requests[r].n));
    for (std::size_t s = 0; s < samples.size(); ++s) {
      const std::string which = "request " + std::to_string(r) + ", sample " + std::to_string(s);
      if (samples[s].token_ids.empty()) fail("generate returned no token for " + which);
      for (const TokenId id : samples[s].token_ids)
        if (id < 0 || id >= vocab)
          fail("generate returned token id " + std::to_string(id) + " for " + which + ", outside the vocabulary [0, " +
               std::to_string(vocab) + ")");
      if (!std::isfinite(samples[s].cumulative_logprob)) fail("generate returned a non-finite log-prob for " + which);
      tokens_ += samples[s].num_tokens();
    }
  }
  return results;
}

at::Tensor CheckedBackend::sequence_logprobs(const std::vector<ScoringExample>& batch) {
  at::Tensor sums = inner_->sequence_logprobs(batch);
  count_scored(batch);
  const auto size = static_cast<std::int64_t>(batch.size());
  if (!sums.defined() || sums.dim() != 1 || sums.size(0) != size || !sums.is_floating_point())
    fail("sequence_logprobs must return a floating [" + std::to_string(size) + "] tensor, got " +
         (sums.defined() ? std::to_string(sums.dim()) + "-d of " + std::to_string(sums.numel()) + " elements"
                         : std::string("an undefined tensor")));
  return sums;
}

std::vector<std::vector<double>> CheckedBackend::token_logprobs(const std::vector<ScoringExample>& batch) {
  std::vector<std::vector<double>> logps = inner_->token_logprobs(batch);
  count_scored(batch);
  if (logps.size() != batch.size())
    fail("token_logprobs returned " + std::to_string(logps.size()) + " rows for " + std::to_string(batch.size()) +
         " examples");
  for (std::size_t i = 0; i < logps.size(); ++i) {
    if (logps[i].size() != batch[i].response_ids.size())
      fail("token_logprobs returned " + std::to_string(logps[i].size()) + " log-probs for example " +
           std::to_string(i) + ", which has " + std::to_string(batch[i].response_ids.size()) + " response tokens");
    for (const double v : logps[i])
      if (!std::isfinite(v)) fail("token_logprobs returned a non-finite log-prob for example " + std::to_string(i));
  }
  return logps;
}

std::unique_ptr<ModelBackend> CheckedBackend::frozen_copy() const {
  std::unique_ptr<ModelBackend> copy = inner_->frozen_copy();
  if (!copy) fail("frozen_copy returned no backend");
  return std::make_unique<CheckedBackend>(std::shared_ptr<ModelBackend>(std::move(copy)));
}

}  // namespace genius::core
