// genius/helpers/critique.hpp — the step-level critique format and one
// teacher-forced pass that reads a critic's verdict on every step.
//
// A critic is a model trained to write, after each step of a solution, a mark
// saying whether the step is correct; every step from the first error on is
// marked wrong (AutoMathCritique's labelling, docs/critique.md):
//
//   query:     7-1+9-7
//   critique:  7-1=6: 6+9-7 [ok]
//              6+9=14: 14-7 [wrong]
//              14-7=7 [wrong]
//              \boxed{7} [wrong]
//
// The steps are the actor's own text, copied exactly. Because the labels are
// monotone (ok ... ok wrong ... wrong), one pass over the critique with every
// step marked ok gives the critic's whole judgement: at step k it reads
//   p_ok[k] = p(" [ok]" after step k | steps 1..k-1 marked ok),
// the probability that step k is the first error is
//   (1 - p_ok[k]) * prod_{j<k} p_ok[j],
// and the probability that step k is wrong (the first error is at k or
// before) is 1 - prod_{j<=k} p_ok[j]. A greedy critic's first "[wrong]" is the
// first step with p_ok < 1/2. No generation is needed.
//
//   auto verdicts = genius::critique::judge(critic, {{query.prompt, genius::critique::split_steps(response)}});
//   int flagged = verdicts[0].first_error();   // -1: the critic accepts every step
#pragma once

#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <genius/error.hpp>
#include <genius/model_backend.hpp>
#include <genius/types.hpp>

namespace genius::critique {

/// The mark after a step judged correct, and after one judged wrong.
inline constexpr std::string_view kCorrectMark = " [ok]";
inline constexpr std::string_view kWrongMark = " [wrong]";

/// The steps of a response: its pieces between `delimiter`s (the samplers'
/// step delimiter, a newline by default), empty pieces dropped.
inline std::vector<std::string> split_steps(std::string_view response, std::string_view delimiter = "\n") {
  std::vector<std::string> steps;
  if (delimiter.empty()) {
    if (!response.empty()) steps.emplace_back(response);
    return steps;
  }
  std::size_t start = 0;
  while (start <= response.size()) {
    std::size_t end = response.find(delimiter, start);
    if (end == std::string_view::npos) end = response.size();
    if (end > start) steps.emplace_back(response.substr(start, end - start));
    start = end + delimiter.size();
  }
  return steps;
}

/// The critique text: each step, its mark, a newline. `wrong[k]` says whether
/// step k is marked wrong (a critic's training target).
inline std::string render(const std::vector<std::string>& steps, const std::vector<bool>& wrong) {
  std::string text;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    text += steps[k];
    text += k < wrong.size() && wrong[k] ? kWrongMark : kCorrectMark;
    text += '\n';
  }
  return text;
}

/// A critic's judgement of one solution, step by step.
struct Verdicts {
  /// p(step k marked correct | the steps before it marked correct), per step.
  std::vector<double> p_ok;

  /// P(step k is wrong) = 1 - prod_{j<=k} p_ok[j].
  double p_wrong(std::size_t k) const {
    double all_ok = 1.0;
    for (std::size_t j = 0; j <= k && j < p_ok.size(); ++j) all_ok *= p_ok[j];
    return 1.0 - all_ok;
  }
  /// P(every step is correct), hence the final answer; 0 for a solution with
  /// no steps (it gives no answer).
  double p_correct() const { return p_ok.empty() ? 0.0 : 1.0 - p_wrong(p_ok.size() - 1); }
  /// The first step the critic calls wrong (p_ok below `threshold`), or -1.
  int first_error(double threshold = 0.5) const {
    for (std::size_t k = 0; k < p_ok.size(); ++k)
      if (p_ok[k] < threshold) return static_cast<int>(k);
    return -1;
  }
};

/// A solution to judge: the query (before chat formatting) and its steps.
struct Solution {
  std::string query;
  std::vector<std::string> steps;
};

/// The teacher-forced input of one solution, every step marked correct, and
/// where each mark's tokens are among the response tokens ([begin, end)).
struct CritiqueInput {
  ScoringExample example;
  std::vector<std::pair<std::size_t, std::size_t>> marks;
};

/// The critique is tokenized whole, as the critic was trained on it; a mark's
/// span is found from the lengths of the prefixes before and after it (exact
/// for byte-level tokenizers and for any tokenizer whose pre-tokenizer splits
/// at the space that begins a mark).
inline CritiqueInput critique_input(const ModelBackend& critic, const Solution& solution) {
  CritiqueInput in;
  in.example.prompt_ids = critic.encode(critic.format_chat(solution.query));
  std::string text;
  for (const std::string& step : solution.steps) {
    text += step;
    const std::size_t begin = critic.encode(text).size();
    text += kCorrectMark;
    const std::size_t end = critic.encode(text).size();
    in.marks.emplace_back(begin, end);
    text += '\n';
  }
  in.example.response_ids = critic.encode(text);
  return in;
}

/// The critic's verdicts on every solution, in one token_logprobs call.
inline std::vector<Verdicts> judge(ModelBackend& critic, const std::vector<Solution>& solutions) {
  std::vector<CritiqueInput> inputs;
  std::vector<ScoringExample> batch;
  inputs.reserve(solutions.size());
  for (const Solution& s : solutions) {
    inputs.push_back(critique_input(critic, s));
    if (!inputs.back().marks.empty()) batch.push_back(inputs.back().example);
  }
  std::vector<std::vector<double>> logprobs;
  if (!batch.empty()) logprobs = critic.token_logprobs(batch);
  std::vector<Verdicts> out(solutions.size());
  std::size_t row = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].marks.empty()) continue;
    const std::vector<double>& lp = logprobs.at(row++);
    for (const auto& [begin, end] : inputs[i].marks) {
      if (end <= begin || end > lp.size())
        throw PluginError(critic.name(), "the critique's verdict marks do not survive tokenization");
      double sum = 0.0;
      for (std::size_t t = begin; t < end; ++t) sum += lp[t];
      out[i].p_ok.push_back(std::exp(sum));
    }
  }
  return out;
}

}  // namespace genius::critique
