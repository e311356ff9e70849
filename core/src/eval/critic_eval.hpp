// Measuring a step-level critic (`genius critic-eval`, docs/critique.md):
// how well its verdicts separate wrong steps from right ones, against the
// rule checker's labels, beside two signals the actor has on its own: the
// log-prob of each step and the foresight log-prob of what follows it.
//
//   std::vector<JudgedSolution> set = ...;        // labels + critic verdicts (+ actor scores)
//   nlohmann::json m = critic_metrics(set, 0.5);  // {"critic": {"step_auc": ..}, ...}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <genius/helpers/critique.hpp>
#include <genius/model_backend.hpp>

#include "eval/critique_data.hpp"

namespace genius::core {

/// The actor's own evidence on each step of a solution: the mean log-prob of
/// the step's tokens (its delimiter included) and the mean log-prob of every
/// token after the step (the rest of the response: its foresight; the step's
/// own for the last step).
struct ActorStepScores {
  std::vector<double> step;
  std::vector<double> rollout;
};
/// One teacher-forced pass of `actor` over every solution (steps joined by
/// `delimiter`, as the actor writes them).
std::vector<ActorStepScores> actor_step_scores(ModelBackend& actor, const std::vector<critique::Solution>& solutions,
                                               const std::string& delimiter = "\n");

/// One solution with its labels and the signals to measure.
struct JudgedSolution {
  StepLabels labels;          ///< the rule checker's, per step
  bool answer_wrong = false;  ///< the final answer is wrong (the task's answer checker)
  critique::Verdicts critic;  ///< p_ok per step
  ActorStepScores actor;      ///< empty when no actor was measured
};

/// {"solutions", "steps", "wrong_steps", "flawed_solutions", "wrong_answers",
///  "critic": {"step_auc", "step_auc_local", "first_error_accuracy",
///             "first_error_accuracy_flawed", "response_precision",
///             "response_recall", "response_f1", "response_accuracy"},
///  "actor_logprob": {"step_auc", "step_auc_cumulative"},
///  "foresight_logprob": {"step_auc"}}  (the actor's only when measured; an AUC
/// with one class missing is -1). AUCs are audit.hpp's roc_auc.
/// Wrong-step scores: the critic's P(step k wrong) = 1 - prod_{j<=k} p_ok[j]
/// (local: 1 - p_ok[k]); the actor's -mean log-prob of the step (cumulative:
/// the largest over steps 1..k, as the labels are); foresight's -mean log-prob
/// of the rest after the step. The critic flags a response when some step's
/// p_ok is below `threshold`; its first flagged step is its first-error guess
/// (-1 = none) and is compared with the rule checker's.
nlohmann::json critic_metrics(const std::vector<JudgedSolution>& solutions, double threshold);

}  // namespace genius::core
