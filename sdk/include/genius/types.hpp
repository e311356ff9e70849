// genius/types.hpp — plain data that crosses plugin interfaces (no torch).
//
// Generation requests and results (ModelBackend), the exploration record of
// one query (Sampler, ValueEstimator) and preference pairs (Sampler -> trainer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace genius {

using TokenId = std::int32_t;

// ---------------------------------------------------------------- generation

/// One prompt to continue, `n` times.
struct GenerationRequest {
  std::vector<TokenId> prompt_ids;
  int n = 1;                 ///< samples; they share the prompt's prefill
  double temperature = 1.0;  ///< 0 = greedy
  double top_p = 1.0;        ///< nucleus sampling mass; 1 = off
  int max_new_tokens = 256;
  std::vector<std::string> stop;  ///< stop strings, matched on decoded text
  std::uint64_t seed = 0;         ///< same seed, same request -> same samples
  bool ignore_eos = false;        ///< keep going past end-of-sequence (benchmarks)
};

enum class FinishReason { Stop, Eos, Length };

inline const char* to_string(FinishReason r) {
  switch (r) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Eos:
      return "eos";
    case FinishReason::Length:
      return "length";
  }
  return "?";
}

/// One generated continuation.
struct GeneratedSample {
  std::vector<TokenId> token_ids;   ///< generated tokens, including the one that ended it
                                    ///< (eos, or the one completing a stop string)
  std::string text;                 ///< decoded text without special tokens, cut before the stop string
  double cumulative_logprob = 0.0;  ///< sum over token_ids of the model's log p(token)
                                    ///< (raw distribution: temperature 1, no top-p)
  FinishReason finish_reason = FinishReason::Length;

  int num_tokens() const { return static_cast<int>(token_ids.size()); }
};

/// The `n` samples generated for one request, in order.
struct GenerationResult {
  std::vector<GeneratedSample> samples;
};

/// What a backend's generation engine did, counted since the backend was
/// made (ModelBackend::generation_stats). Callers take differences around a
/// stage. A prompt's prefill is counted once per admission of its samples
/// into the batch: `prompt_tokens_computed + prompt_tokens_reused` is the
/// prompt tokens those prefills covered.
struct GenerationStats {
  std::int64_t calls = 0;                        ///< generate() calls
  std::int64_t requests = 0;                     ///< requests handed to them
  std::int64_t prefills = 0;                     ///< prompts prefilled (admissions)
  std::int64_t prompt_tokens_computed = 0;       ///< prompt tokens run through the model
  std::int64_t prompt_tokens_reused = 0;         ///< prompt tokens whose keys/values came from a prefix cache
  std::int64_t generated_tokens = 0;             ///< tokens sampled
  std::int64_t decode_steps = 0;                 ///< one-token forward passes
  std::int64_t decode_rows = 0;                  ///< sum over decode steps of the rows in the pass
  std::int64_t kv_bytes = 0;                     ///< key/value memory held now (prefix cache included)
  std::int64_t kv_bytes_peak = 0;                ///< most key/value memory held at once, ever
  std::int64_t prefix_cache_bytes = 0;           ///< of which the prefix cache, now
  std::int64_t prefix_cache_evicted_tokens = 0;  ///< tokens evicted to stay within the budget
};

/// A (prompt, response) pair to score with the model, for training losses.
struct ScoringExample {
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> response_ids;
};

/// LoRA adapters (Hu et al., arXiv 2106.09685) as PEFT defines them: each
/// target linear layer y = W x becomes y = W x + (alpha / r) B A dropout(x),
/// A [r, in] random, B [out, r] zero (so training starts from the base model).
struct LoraOptions {
  int rank = 8;                             ///< r
  double alpha = 16.0;                      ///< lora_alpha
  double dropout = 0.0;                     ///< lora_dropout, on the adapter's input while training
  std::vector<std::string> target_modules;  ///< PEFT's names: q_proj, k_proj, v_proj, o_proj, gate_proj, ...
  std::uint64_t seed = 0;                   ///< of A's initialisation
};

// --------------------------------------------------------------- exploration

/// An unlabeled query. `id` is stable across runs (records and pairs link to it).
struct Query {
  std::string id;
  std::string prompt;      ///< the query text (not yet chat-formatted)
  std::uint64_t seed = 0;  ///< the query's own seed (derived from the run seed and id by the host)
};

/// One candidate next step, its foresight rollout and its value.
struct Candidate {
  int parent_beam = 0;        ///< index of the beam it extends
  double beam_logprob = 0.0;  ///< log-prob of the parent beam's text (earlier steps)
  int beam_tokens = 0;
  std::string step;           ///< the candidate step text (no trailing delimiter)
  double step_logprob = 0.0;  ///< cumulative log-prob of the step's tokens
  int step_tokens = 0;
  std::string rollout;  ///< simulated rest of the response after the step
  double rollout_logprob = 0.0;
  int rollout_tokens = 0;
  std::string trajectory;  ///< the whole response: beam + step + delimiter + rollout
  std::string answer;      ///< final answer extracted from the trajectory ("" = none)
  double score = 0.0;      ///< value estimate of the candidate (ValueEstimator)
  double advantage = 0.0;  ///< score - value of the parent beam
  bool complete = false;   ///< the step itself produced the final answer
};

/// Everything recorded at one step of the exploration of one query.
struct StepRecord {
  int step = 0;                       ///< 1-based
  std::vector<std::string> beams;     ///< partial responses before this step
  std::vector<double> beam_values;    ///< q of each beam
  std::vector<Candidate> candidates;  ///< K*M of them
  std::vector<int> selected;          ///< candidate indices kept as next beams
  bool foresight_skipped = false;     ///< light mode: no rollouts were needed
};

/// The exploration of one query.
struct ExplorationRecord {
  Query query;
  std::vector<StepRecord> steps;
  std::string response;               ///< the final response chosen among the beams
  std::int64_t generated_tokens = 0;  ///< every token generated for this query (cost)
};

// ------------------------------------------------------------------- pairs

/// A preference pair built from one step's pool of trajectories.
struct PreferencePair {
  std::string query_id;
  int step = 0;
  std::string prompt;                  ///< the query
  std::string chosen;                  ///< whole response
  std::string rejected;                ///< whole response
  double chosen_weight = 0.0;          ///< A(chosen)
  double rejected_weight = 0.0;        ///< A(rejected)
  double chosen_average_weight = 0.0;  ///< mean A over the pool
};

}  // namespace genius
