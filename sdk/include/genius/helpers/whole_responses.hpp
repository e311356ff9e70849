// genius/helpers/whole_responses.hpp — whole-response sampling (the
// `best-of-n` and `self-consistency` samplers use it): `n` complete responses per query, recorded as one step (step 1)
// whose pool is the responses themselves, so the value estimators and genius::step_pairs read them like foresight
// candidates.
#pragma once

#include <string>
#include <vector>

#include <genius/manifest.hpp>
#include <genius/model_backend.hpp>
#include <genius/types.hpp>

#include <genius/helpers/seeds.hpp>

namespace genius::samplers {

struct WholeResponseOptions {
  int n = 8;
  double temperature = 0.6;
  double top_p = 1.0;
  int max_tokens = 1024;
};

/// The manifest keys of whole-response sampling (n, temperature, top_p,
/// max_tokens, concurrent_queries), shared by both samplers.
inline PluginManifest add_whole_response_keys(PluginManifest m) {
  m.key("n", 8, "responses sampled per query", at_least(1))
      .key("temperature", 0.6, "sampling temperature (0 = greedy)", at_least(0.0))
      .key("top_p", 1.0, "nucleus mass (1 = off)", Bounds{0.0, 1.0, false, true})
      .key("max_tokens", 1024, "most tokens of one response", at_least(1))
      .key("concurrent_queries", 8, "queries sampled together in one explore() call", at_least(1));
  return m;
}

/// Seed stream of the responses of a query: request seed = derive(query.seed, {1})
/// (the backend then seeds sample i from (request seed, i)).
constexpr std::uint64_t kResponseStream = 1;

/// One record per query with a single step: beams {""}, beam values {0}, and
/// one candidate per response (parent beam 0, step = trajectory = the response,
/// step log-prob and tokens from generation, no rollout, complete). All
/// queries go to the backend in one generate call. Scores are left to the
/// caller (a ValueEstimator). The host checks what the backend returns.
inline std::vector<ExplorationRecord> sample_whole_responses(const std::vector<Query>& queries, ModelBackend& backend,
                                                             const WholeResponseOptions& options) {
  std::vector<GenerationRequest> requests;
  for (const Query& q : queries) {
    GenerationRequest r;
    r.prompt_ids = backend.encode(backend.format_chat(q.prompt));
    r.n = options.n;
    r.temperature = options.temperature;
    r.top_p = options.top_p;
    r.max_new_tokens = options.max_tokens;
    r.seed = derive_seed(q.seed, {kResponseStream});
    requests.push_back(std::move(r));
  }
  const std::vector<GenerationResult> results = backend.generate(requests);
  std::vector<ExplorationRecord> records(queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    ExplorationRecord& record = records[q];
    record.query = queries[q];
    StepRecord step;
    step.step = 1;
    step.beams = {""};
    step.beam_values = {0.0};
    for (const GeneratedSample& sample : results[q].samples) {
      Candidate c;
      c.parent_beam = 0;
      c.step = sample.text;
      c.step_logprob = sample.cumulative_logprob;
      c.step_tokens = sample.num_tokens();
      c.trajectory = sample.text;
      c.complete = true;
      record.generated_tokens += sample.num_tokens();
      step.candidates.push_back(std::move(c));
    }
    record.steps.push_back(std::move(step));
  }
  return records;
}

/// Index of the highest score (the first on ties); -1 for an empty pool.
inline int highest_score(const std::vector<Candidate>& pool) {
  int best = -1;
  for (std::size_t i = 0; i < pool.size(); ++i)
    if (best < 0 || pool[i].score > pool[static_cast<std::size_t>(best)].score) best = static_cast<int>(i);
  return best;
}

}  // namespace genius::samplers
