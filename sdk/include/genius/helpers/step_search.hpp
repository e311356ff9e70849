// genius/helpers/step_search.hpp — the step-by-step search the foresight
// samplers share (`foresight`, `phi-decoding`): K beams per query, candidate
// next steps sampled from each open beam, one foresight rollout per
// candidate, beams advanced to the chosen candidates, open beams completed at
// the end. All queries of an explore() call advance together (one generate
// call per phase), and every request's seed comes from its query's seed:
//   candidate steps of beam b at step t   derive(seed, {1, t, b})
//   rollout of candidate c at step t      derive(seed, {2, t, c})
//   final completion of beam b            derive(seed, {4, b})
// (streams 3 and 5 are the samplers' own: selection draws).
//
// A sampler's per-query state derives from StepSearch and adds its own fields;
// the functions below take a vector of it.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <genius/model_backend.hpp>
#include <genius/types.hpp>

#include <genius/helpers/seeds.hpp>

namespace genius::samplers {

constexpr std::uint64_t kCandidateStepStream = 1, kStepRolloutStream = 2, kCompletionStream = 4;

/// One partial response of a query's search.
struct StepBeam {
  std::string text;        ///< the response so far: steps, each followed by the delimiter
                           ///< (a complete beam ends with its last step instead)
  double value = 0.0;      ///< q: the score of the candidate that made the beam (0 at first)
  double advantage = 0.0;  ///< A of that candidate
  double logprob = 0.0;    ///< generation log-prob of the beam's tokens, summed over its steps
  int tokens = 0;
  bool complete = false;
};

/// The generation settings of a step search.
struct StepSearchOptions {
  int candidates = 4;  ///< candidate steps per open beam and step
  double step_temperature = 0.6, rollout_temperature = 1.0, top_p = 1.0;
  std::string delimiter = "\n";
  int max_step_tokens = 256, max_rollout_tokens = 1024;
  std::string answer_marker = "\\boxed{";  ///< a step containing it completes its trajectory ("" = only eos)
};

/// One query's search state.
struct StepSearch {
  ExplorationRecord record;
  std::string chat_prompt;      ///< format_chat(query): every prompt is chat_prompt + response text
  std::vector<StepBeam> beams;  ///< K slots; a complete beam keeps its slot until the end
  std::vector<Candidate> pool;  ///< the current step's candidates
  bool searching = true;        ///< false: this query samples no more steps (depth pruning)

  bool finished() const {
    return std::all_of(beams.begin(), beams.end(), [](const StepBeam& b) { return b.complete; });
  }
  std::size_t open() const {
    return static_cast<std::size_t>(
        std::count_if(beams.begin(), beams.end(), [](const StepBeam& b) { return !b.complete; }));
  }
  std::vector<double> beam_values() const {
    std::vector<double> v;
    v.reserve(beams.size());
    for (const StepBeam& b : beams) v.push_back(b.value);
    return v;
  }
};

/// A fresh state per query: `beams` empty beams.
template <class State>
std::vector<State> start_search(const std::vector<Query>& queries, const ModelBackend& backend, int beams) {
  std::vector<State> states;
  states.reserve(queries.size());
  for (const Query& q : queries) {
    State s;
    s.record.query = q;
    s.chat_prompt = backend.format_chat(q.prompt);
    s.beams.assign(static_cast<std::size_t>(beams), StepBeam{});
    states.push_back(std::move(s));
  }
  return states;
}

/// The prompt of a request: the WHOLE text encoded at once (not the prompt's
/// ids followed by the beam's), so the tokens are the ones the tokenizer gives
/// the text, as in training and scoring.
inline GenerationRequest search_request(const ModelBackend& backend, const StepSearch& s, const std::string& response,
                                        int n, double temperature, double top_p, int max_tokens, std::uint64_t seed) {
  GenerationRequest r;
  r.prompt_ids = backend.encode(s.chat_prompt + response);
  r.n = n;
  r.temperature = temperature;
  r.top_p = top_p;
  r.max_new_tokens = max_tokens;
  r.seed = seed;
  return r;
}

/// `options.candidates` candidate next steps for every open beam of every
/// searching query: one generate call, one request per beam, stopping at the
/// delimiter. Fills each query's pool (cleared first).
template <class State>
void sample_candidate_steps(std::vector<State>& states, int t, ModelBackend& backend, const StepSearchOptions& o) {
  std::vector<GenerationRequest> requests;
  std::vector<std::pair<std::size_t, std::size_t>> owner;  // (query, beam) of each request
  for (std::size_t q = 0; q < states.size(); ++q) {
    StepSearch& s = states[q];
    s.pool.clear();
    if (!s.searching) continue;
    for (std::size_t b = 0; b < s.beams.size(); ++b) {
      if (s.beams[b].complete) continue;
      requests.push_back(search_request(backend, s, s.beams[b].text, o.candidates, o.step_temperature, o.top_p,
                                        o.max_step_tokens,
                                        derive_seed(s.record.query.seed, {kCandidateStepStream, std::uint64_t(t), b})));
      requests.back().stop = {o.delimiter};
      owner.emplace_back(q, b);
    }
  }
  const std::vector<GenerationResult> results =
      requests.empty() ? std::vector<GenerationResult>{} : backend.generate(requests);
  for (std::size_t r = 0; r < results.size(); ++r) {
    StepSearch& s = states[owner[r].first];
    const StepBeam& beam = s.beams[owner[r].second];
    for (const GeneratedSample& sample : results[r].samples) {
      Candidate c;
      c.parent_beam = static_cast<int>(owner[r].second);
      c.beam_logprob = beam.logprob;
      c.beam_tokens = beam.tokens;
      c.step = sample.text;
      c.step_logprob = sample.cumulative_logprob;  // includes the delimiter (or eos) token that ended it
      c.step_tokens = sample.num_tokens();
      c.complete = sample.finish_reason == FinishReason::Eos ||
                   (!o.answer_marker.empty() && c.step.find(o.answer_marker) != std::string::npos);
      c.trajectory = beam.text + c.step;
      s.record.generated_tokens += sample.num_tokens();
      s.pool.push_back(std::move(c));
    }
  }
}

/// One foresight rollout to the end of the response for every candidate that
/// is not complete, for all queries in one generate call; a query for which
/// `skip(state)` is true gets the delimiter appended but no rollouts.
template <class State, class Skip>
void roll_out_candidates(std::vector<State>& states, int t, ModelBackend& backend, const StepSearchOptions& o,
                         Skip skip) {
  std::vector<GenerationRequest> requests;
  std::vector<std::pair<std::size_t, std::size_t>> owner;  // (query, candidate) of each request
  for (std::size_t q = 0; q < states.size(); ++q) {
    StepSearch& s = states[q];
    if (s.pool.empty()) continue;
    const bool skipped = skip(states[q]);
    for (std::size_t i = 0; i < s.pool.size(); ++i) {
      Candidate& c = s.pool[i];
      if (c.complete) continue;
      c.trajectory += o.delimiter;
      if (skipped) continue;
      requests.push_back(search_request(backend, s, c.trajectory, 1, o.rollout_temperature, o.top_p,
                                        o.max_rollout_tokens,
                                        derive_seed(s.record.query.seed, {kStepRolloutStream, std::uint64_t(t), i})));
      owner.emplace_back(q, i);
    }
  }
  const std::vector<GenerationResult> results =
      requests.empty() ? std::vector<GenerationResult>{} : backend.generate(requests);
  for (std::size_t r = 0; r < results.size(); ++r) {
    StepSearch& s = states[owner[r].first];
    Candidate& c = s.pool[owner[r].second];
    const GeneratedSample& sample = results[r].samples.front();
    c.rollout = sample.text;
    c.rollout_logprob = sample.cumulative_logprob;
    c.rollout_tokens = sample.num_tokens();
    c.trajectory += c.rollout;
    s.record.generated_tokens += sample.num_tokens();
  }
}

/// Record step `t` (the beams before it, their values, the pool, `picked`) and
/// replace each open beam, in slot order, by the next picked candidate: new
/// beam = parent + step + delimiter with q = its score; a complete candidate
/// makes a complete beam. Empties the pool.
inline StepRecord advance_beams(StepSearch& s, int t, const std::vector<double>& parent_values,
                                const std::vector<int>& picked, const std::string& delimiter) {
  StepRecord step;
  step.step = t;
  for (const StepBeam& b : s.beams) step.beams.push_back(b.text);
  step.beam_values = parent_values;
  step.selected = picked;
  std::vector<StepBeam> next = s.beams;
  std::size_t k = 0;
  for (StepBeam& slot : next) {
    if (slot.complete) continue;
    const Candidate& c = s.pool[static_cast<std::size_t>(picked[k++])];
    const StepBeam& parent = s.beams[static_cast<std::size_t>(c.parent_beam)];
    slot.text = parent.text + c.step + (c.complete ? "" : delimiter);
    slot.value = c.score;
    slot.advantage = c.advantage;
    slot.logprob = parent.logprob + c.step_logprob;
    slot.tokens = parent.tokens + c.step_tokens;
    slot.complete = c.complete;
  }
  s.beams = std::move(next);
  step.candidates = std::move(s.pool);
  s.pool.clear();
  return step;
}

/// Complete every open beam of every query with one rollout (one generate
/// call). Returns, per query, the completions as candidates with an empty
/// step (parent_beam = the beam, trajectory = beam + completion, complete),
/// unscored.
template <class State>
std::vector<std::vector<Candidate>> complete_beams(std::vector<State>& states, ModelBackend& backend,
                                                   const StepSearchOptions& o) {
  std::vector<GenerationRequest> requests;
  std::vector<std::pair<std::size_t, std::size_t>> owner;  // (query, beam)
  for (std::size_t q = 0; q < states.size(); ++q) {
    StepSearch& s = states[q];
    for (std::size_t b = 0; b < s.beams.size(); ++b) {
      if (s.beams[b].complete) continue;
      requests.push_back(search_request(backend, s, s.beams[b].text, 1, o.rollout_temperature, o.top_p,
                                        o.max_rollout_tokens,
                                        derive_seed(s.record.query.seed, {kCompletionStream, b})));
      owner.emplace_back(q, b);
    }
  }
  const std::vector<GenerationResult> results =
      requests.empty() ? std::vector<GenerationResult>{} : backend.generate(requests);
  std::vector<std::vector<Candidate>> finals(states.size());
  for (std::size_t r = 0; r < results.size(); ++r) {
    StepSearch& s = states[owner[r].first];
    const StepBeam& beam = s.beams[owner[r].second];
    const GeneratedSample& sample = results[r].samples.front();
    Candidate c;
    c.parent_beam = static_cast<int>(owner[r].second);
    c.beam_logprob = beam.logprob;
    c.beam_tokens = beam.tokens;
    c.rollout = sample.text;
    c.rollout_logprob = sample.cumulative_logprob;
    c.rollout_tokens = sample.num_tokens();
    c.trajectory = beam.text + c.rollout;
    c.complete = true;
    s.record.generated_tokens += sample.num_tokens();
    finals[owner[r].first].push_back(std::move(c));
  }
  return finals;
}

/// The final trajectory of each beam slot and its (value, advantage): the
/// completion where there is one (with its new score), else the beam itself.
struct FinalTrajectories {
  std::vector<std::string> texts;
  std::vector<double> scores, advantages;
};
inline FinalTrajectories final_trajectories(const StepSearch& s, const std::vector<Candidate>& finals) {
  FinalTrajectories out;
  for (const StepBeam& b : s.beams) {
    out.texts.push_back(b.text);
    out.scores.push_back(b.value);
    out.advantages.push_back(b.advantage);
  }
  for (const Candidate& c : finals) {
    const auto b = static_cast<std::size_t>(c.parent_beam);
    out.texts[b] = c.trajectory;
    out.scores[b] = c.score;
    out.advantages[b] = c.advantage;
  }
  return out;
}

}  // namespace genius::samplers
