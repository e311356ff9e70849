#include "eval/critic_eval.hpp"

#include "eval/audit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace genius::core {

std::vector<ActorStepScores> actor_step_scores(ModelBackend& actor, const std::vector<critique::Solution>& solutions,
                                               const std::string& delimiter) {
  std::vector<ScoringExample> batch;
  std::vector<std::vector<std::size_t>> ends;  // per solution: token count through each step
  for (const critique::Solution& s : solutions) {
    ScoringExample e;
    e.prompt_ids = actor.encode(actor.format_chat(s.query));
    std::string text;
    std::vector<std::size_t> end;
    for (std::size_t k = 0; k < s.steps.size(); ++k) {
      text += s.steps[k];
      if (k + 1 < s.steps.size()) text += delimiter;
      end.push_back(actor.encode(text).size());
    }
    e.response_ids = actor.encode(text);
    batch.push_back(std::move(e));
    ends.push_back(std::move(end));
  }
  std::vector<std::vector<double>> lp;
  if (!batch.empty()) lp = actor.token_logprobs(batch);
  auto mean = [](const std::vector<double>& v, std::size_t from, std::size_t to) {
    to = std::min(to, v.size());
    if (to <= from) return 0.0;
    return std::accumulate(v.begin() + std::ptrdiff_t(from), v.begin() + std::ptrdiff_t(to), 0.0) /
           static_cast<double>(to - from);
  };
  std::vector<ActorStepScores> out(solutions.size());
  for (std::size_t i = 0; i < solutions.size(); ++i) {
    std::size_t begin = 0;
    for (std::size_t k = 0; k < ends[i].size(); ++k) {
      const std::size_t end = ends[i][k];
      out[i].step.push_back(mean(lp[i], begin, end));
      out[i].rollout.push_back(end < lp[i].size() ? mean(lp[i], end, lp[i].size()) : out[i].step.back());
      begin = end;
    }
  }
  return out;
}

namespace {

// JSON has no NaN: -1 marks an AUC that is not defined (one class missing).
double auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  return roc_auc(scores, positive).value_or(-1.0);
}

}  // namespace

nlohmann::json critic_metrics(const std::vector<JudgedSolution>& solutions, double threshold) {
  std::vector<bool> labels;
  std::vector<double> critic, critic_local, actor_local, actor_cumulative, foresight;
  std::size_t flawed = 0, wrong_answers = 0, first_right = 0, first_right_flawed = 0;
  std::size_t tp = 0, fp = 0, fn = 0, tn = 0;
  bool with_actor = !solutions.empty();
  for (const JudgedSolution& s : solutions) {
    const auto n = s.labels.steps.size();
    if (s.critic.p_ok.size() != n) throw std::invalid_argument("critic_metrics: verdicts and steps differ in number");
    with_actor = with_actor && s.actor.step.size() == n;
    double all_ok = 1.0, worst = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < n; ++k) {
      labels.push_back(s.labels.wrong[k]);
      all_ok *= s.critic.p_ok[k];
      critic.push_back(1.0 - all_ok);
      critic_local.push_back(1.0 - s.critic.p_ok[k]);
      if (s.actor.step.size() == n) {
        worst = std::max(worst, -s.actor.step[k]);
        actor_local.push_back(-s.actor.step[k]);
        actor_cumulative.push_back(worst);
        foresight.push_back(-s.actor.rollout[k]);
      }
    }
    flawed += s.labels.first_error >= 0;
    wrong_answers += s.answer_wrong;
    const int guess = n == 0 ? -1 : s.critic.first_error(threshold);
    first_right += guess == s.labels.first_error;
    first_right_flawed += s.labels.first_error >= 0 && guess == s.labels.first_error;
    const bool flagged = guess >= 0 || n == 0;
    tp += flagged && s.answer_wrong;
    fp += flagged && !s.answer_wrong;
    fn += !flagged && s.answer_wrong;
    tn += !flagged && !s.answer_wrong;
  }
  const double precision = tp + fp ? double(tp) / double(tp + fp) : 0.0;
  const double recall = tp + fn ? double(tp) / double(tp + fn) : 0.0;
  nlohmann::json j = {
      {"solutions", solutions.size()},
      {"steps", labels.size()},
      {"wrong_steps", std::count(labels.begin(), labels.end(), true)},
      {"flawed_solutions", flawed},
      {"wrong_answers", wrong_answers},
      {"critic",
       {{"step_auc", auc(critic, labels)},
        {"step_auc_local", auc(critic_local, labels)},
        {"first_error_accuracy", solutions.empty() ? 0.0 : double(first_right) / double(solutions.size())},
        {"first_error_accuracy_flawed", flawed ? double(first_right_flawed) / double(flawed) : 0.0},
        {"response_precision", precision},
        {"response_recall", recall},
        {"response_f1", precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0},
        {"response_accuracy", solutions.empty() ? 0.0 : double(tp + tn) / double(solutions.size())}}}};
  if (with_actor) {
    j["actor_logprob"] = {{"step_auc", auc(actor_local, labels)},
                          {"step_auc_cumulative", auc(actor_cumulative, labels)}};
    j["foresight_logprob"] = {{"step_auc", auc(foresight, labels)}};
  }
  return j;
}

}  // namespace genius::core
