// `critic`: a candidate's value is a step-level critic's judgement of it
// (docs/critique.md). The critic, the [critic] section's model, reads the
// query and the candidate's steps with every step marked correct and gives,
// in one teacher-forced pass, p_ok[k] = p(step k correct | the steps before it
// correct) (<genius/helpers/critique.hpp>). The score aggregates those:
//   min      the least trusted step (a process reward's usual reading)
//   mean     their mean
//   last     the last judged step alone
//   product  P(every judged step is correct) = prod_k p_ok[k]
// over the steps that `scope` covers:
//   step        the beam's steps and the candidate step (what a process critic sees)
//   trajectory  the whole trajectory, the foresight rollout included (an outcome critic)
// A candidate with an empty step (a beam's completion) is judged on its
// trajectory under either scope. `logprob_weight` w adds the policy's own
// length-normalised log-prob, as `foresight-logprob` computes it:
//   score = aggregate + w * lp(covered tokens) / n(covered tokens).
// The host sets A = score - q(parent).
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/helpers/critique.hpp>
#include <genius/registration.hpp>
#include <genius/value_estimator.hpp>

namespace {

using genius::Candidate;

enum class Aggregate { Min, Mean, Last, Product };
enum class Scope { Step, Trajectory };
enum class LogprobScope { Rollout, StepRollout, Response };

class CriticValue final : public genius::ValueEstimator {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::ValueEstimator, "critic", "1.0.0",
                               "a step-level critic's verdicts on the candidate's steps (the [critic] model), "
                               "aggregated; optionally mixed with the policy's foresight log-prob")
            .uses_model("critic")
            .choice("aggregate", "min", {"min", "mean", "last", "product"},
                    "how the judged steps' p(correct) combine: the least, the mean, the last, or their product "
                    "(P(all correct))")
            .choice("scope", "step", {"step", "trajectory"},
                    "steps judged: the beam's and the candidate's (a process critic), or the whole trajectory "
                    "with its rollout")
            .key("logprob_weight", 0.0, "w: add w * the policy's mean log-prob over logprob_scope (0 = critic only)",
                 genius::at_least(0.0))
            .choice("logprob_scope", "response", {"rollout", "step_rollout", "response"},
                    "tokens the mixed-in mean log-prob covers (as foresight-logprob's scope)")
            .key("step_delimiter", "\n", "text between steps (the sampler's step_delimiter)")
            .size(1);
    return m;
  }

  explicit CriticValue(const genius::ConfigView& cfg)
      : aggregate_(parse_aggregate(cfg.get<std::string>("aggregate"))),
        scope_(cfg.get<std::string>("scope") == "trajectory" ? Scope::Trajectory : Scope::Step),
        weight_(cfg.get<double>("logprob_weight")),
        logprob_scope_(parse_logprob_scope(cfg.get<std::string>("logprob_scope"))),
        delimiter_(cfg.get<std::string>("step_delimiter")) {
    if (delimiter_.empty()) throw genius::PluginError("critic", "step_delimiter must not be empty");
  }

  void attach_model(const std::string& role, genius::ModelBackend& model) override {
    if (role != "critic") ValueEstimator::attach_model(role, model);
    critic_ = &model;
  }

  void score(const genius::Query& query, std::vector<Candidate>& candidates, const std::vector<double>&,
             genius::ModelBackend&) override {
    if (!critic_) throw genius::PluginError(name(), "no [critic] model was attached");
    std::vector<genius::critique::Solution> solutions;
    solutions.reserve(candidates.size());
    for (const Candidate& c : candidates)
      solutions.push_back({query.prompt, genius::critique::split_steps(judged_text(c), delimiter_)});
    const std::vector<genius::critique::Verdicts> verdicts = genius::critique::judge(*critic_, solutions);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      candidates[i].score = aggregate(verdicts[i].p_ok);
      if (weight_ > 0) candidates[i].score += weight_ * mean_logprob(candidates[i], i);
    }
  }

 private:
  // The text the critic judges: the candidate through its step (the
  // trajectory without its rollout), or the whole trajectory.
  std::string judged_text(const Candidate& c) const {
    if (scope_ == Scope::Trajectory || c.step.empty() || c.rollout.empty()) return c.trajectory;
    const std::string& t = c.trajectory;
    if (t.size() >= c.rollout.size() && t.compare(t.size() - c.rollout.size(), c.rollout.size(), c.rollout) == 0)
      return t.substr(0, t.size() - c.rollout.size());
    return t;
  }

  double aggregate(const std::vector<double>& p) const {
    if (p.empty()) return 0.0;  // nothing to judge: no answer either
    switch (aggregate_) {
      case Aggregate::Min:
        return *std::min_element(p.begin(), p.end());
      case Aggregate::Mean:
        return std::accumulate(p.begin(), p.end(), 0.0) / static_cast<double>(p.size());
      case Aggregate::Last:
        return p.back();
      case Aggregate::Product:
        return std::accumulate(p.begin(), p.end(), 1.0, [](double a, double b) { return a * b; });
    }
    return 0.0;
  }

  double mean_logprob(const Candidate& c, std::size_t index) const {
    double lp = c.rollout_logprob;
    int n = c.rollout_tokens;
    if (logprob_scope_ != LogprobScope::Rollout || n == 0) lp += c.step_logprob, n += c.step_tokens;
    if (logprob_scope_ == LogprobScope::Response) lp += c.beam_logprob, n += c.beam_tokens;
    if (n == 0) throw genius::PluginError(name(), "candidate " + std::to_string(index) + " has no tokens to score");
    return lp / n;
  }

  static Aggregate parse_aggregate(const std::string& s) {
    if (s == "mean") return Aggregate::Mean;
    if (s == "last") return Aggregate::Last;
    if (s == "product") return Aggregate::Product;
    return Aggregate::Min;  // the manifest allows nothing else
  }
  static LogprobScope parse_logprob_scope(const std::string& s) {
    if (s == "rollout") return LogprobScope::Rollout;
    if (s == "step_rollout") return LogprobScope::StepRollout;
    return LogprobScope::Response;
  }

  Aggregate aggregate_;
  Scope scope_;
  double weight_;
  LogprobScope logprob_scope_;
  std::string delimiter_;
  genius::ModelBackend* critic_ = nullptr;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(CriticValue)
