// @NAME@: a sampler for Genius (scaffolded by `genius new-plugin`).
//
// For each query: sample `n` whole responses in one batched generate call,
// record them as the pool of a single step, ask the value estimator to score
// them, keep the best as the record's response, and pair the best with one
// drawn from softmax(score / 0.1) over the rest, copies of the best response
// left out (genius::step_pairs, the paper's re-sampling).
// TODO: a step-wise sampler (like `foresight`) would extend beams step by
// step, with several steps per record and candidates that name their parent.
#include <cstdint>
#include <string>
#include <vector>

#include <genius/helpers/pairs.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>

namespace {

class @CLASS@ final : public genius::Sampler {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Sampler, "@NAME@", "0.1.0",
                               "n whole responses per query, best vs a random other (scaffold)")
            .key("n", 4, "responses sampled per query (a pair needs 2)", genius::at_least(2))
            .key("temperature", 0.8, "sampling temperature (0 = greedy)", genius::at_least(0.0))
            .key("max_tokens", 64, "most tokens of one response", genius::at_least(1))
            .key("concurrent_queries", 4, "queries sampled together in one explore() call", genius::at_least(1));
    return m;
  }

  explicit @CLASS@(const genius::ConfigView& cfg)
      : n_(cfg.get<int>("n")),
        temperature_(cfg.get<double>("temperature")),
        max_tokens_(cfg.get<int>("max_tokens")),
        concurrent_queries_(cfg.get<std::size_t>("concurrent_queries")) {}

  std::size_t queries_per_call() const override { return concurrent_queries_; }

  std::vector<genius::ExplorationRecord> explore(const std::vector<genius::Query>& queries,
                                                 genius::ModelBackend& backend,
                                                 genius::ValueEstimator& values) override {
    // One request per query, all in one call so the backend batches them.
    // The seed is the query's own: its record does not depend on the batch.
    std::vector<genius::GenerationRequest> requests;
    for (const genius::Query& q : queries) {
      genius::GenerationRequest r;
      r.prompt_ids = backend.encode(backend.format_chat(q.prompt));
      r.n = n_;
      r.temperature = temperature_;
      r.max_new_tokens = max_tokens_;
      r.seed = q.seed;
      requests.push_back(std::move(r));
    }
    // The host checks what the backend returns: one result per request, n
    // samples each, every sample with a token and a finite log-prob.
    const std::vector<genius::GenerationResult> results = backend.generate(requests);

    std::vector<genius::ExplorationRecord> records(queries.size());
    for (std::size_t q = 0; q < queries.size(); ++q) {
      genius::ExplorationRecord& record = records[q];
      record.query = queries[q];
      genius::StepRecord step;
      step.step = 1;
      step.beams = {""};        // one empty beam ...
      step.beam_values = {0.0};  // ... of value 0, so advantage = score
      for (const genius::GeneratedSample& sample : results[q].samples) {
        genius::Candidate c;
        c.step = c.trajectory = sample.text;
        c.step_logprob = sample.cumulative_logprob;
        c.step_tokens = sample.num_tokens();
        c.complete = true;
        record.generated_tokens += sample.num_tokens();
        step.candidates.push_back(std::move(c));
      }
      values.score(record.query, step.candidates, step.beam_values, backend);
      std::size_t best = 0;
      for (std::size_t i = 1; i < step.candidates.size(); ++i)
        if (step.candidates[i].score > step.candidates[best].score) best = i;
      step.selected = {static_cast<int>(best)};
      record.response = step.candidates[best].trajectory;
      record.steps.push_back(std::move(step));
    }
    return records;
  }

  // chosen = the highest score, rejected = drawn from softmax(score / 0.1)
  // over the rest, skipping copies of the chosen text, with the advantage
  // weights the ACO loss uses. Deterministic for a given seed. Other rules:
  // {genius::RejectedRule::Random} (uniform) or {genius::RejectedRule::Lowest}.
  std::vector<genius::PreferencePair> make_pairs(const genius::ExplorationRecord& record,
                                                 std::uint64_t seed) const override {
    return genius::step_pairs(record, seed, genius::PairRule{genius::RejectedRule::Softmax, 0.1, true});
  }

 private:
  int n_;
  double temperature_;
  int max_tokens_;
  std::size_t concurrent_queries_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(@CLASS@)
