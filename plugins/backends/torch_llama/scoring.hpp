// Log-probabilities of responses given prompts, for the training losses.
#pragma once

#include <vector>

#include <genius/types.hpp>

#include "llama_model.hpp"

namespace genius::llama {

struct ResponseLogprobs {
  at::Tensor sums;                    ///< [batch] sum over each response's tokens (differentiable)
  at::Tensor tokens;                  ///< [total response tokens] log p of each, examples concatenated
  std::vector<std::int64_t> lengths;  ///< response tokens per example

  /// `tokens` split per example, as doubles.
  std::vector<std::vector<double>> per_token() const;
};

/// Run prompt + response of every example through the model in one
/// right-padded batch (padding masked) and gather the log-prob of each
/// response token given all tokens before it. Only the response positions go
/// through the vocabulary projection. Throws std::invalid_argument for an
/// empty prompt (the first response token needs a context) or an id outside
/// the vocabulary.
ResponseLogprobs response_logprobs(CausalLm& model, const std::vector<ScoringExample>& batch);

}  // namespace genius::llama
