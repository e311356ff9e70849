// Step-level labels and critique data for the arith task (docs/critique.md).
//
// The rule checker: a query of the arith task determines its solution, so a
// response's steps can be labelled exactly: step k is wrong when it or any
// step before it differs from the solution's (every step from the first error
// on is wrong, as AutoMathCritique labels). It measures critics and builds
// their training data; self-training never calls it.
//
// Slips: how the base model's first wrong step differs from the right one,
// measured on its own samples (`genius slips`), and injected into correct
// solutions to make flawed ones for the critic to learn from (the task
// `arith-critique`): a first-error step is drawn, perturbed the way the base
// model slips, and the rest of the solution carries the error on
// consistently, in the actor's exact step format.
//
//   std::optional<Problem> p = solve_arith("7-1+9-7");        // the reference solution
//   StepLabels l = label_steps(p->solution, response);         // per step: wrong?
//   SlipModel slips = SlipModel::from_json(read_json("slips.json"));
//   Problem flawed = inject_slip(*p, slips, rng);               // or nullopt-like: see below
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/tasks.hpp"

namespace genius::core {

/// The arith problem of a query ("7-1+9-7"), with its step-by-step solution;
/// nullopt when the text is not an arith expression (digits 1-9, + and -).
std::optional<Problem> solve_arith(const std::string& prompt);

/// The rule checker's verdict on each step of a response.
struct StepLabels {
  std::vector<std::string> steps;  ///< the response's steps (critique::split_steps)
  std::vector<bool> wrong;         ///< step k or an earlier one differs from the reference
  int first_error = -1;            ///< index of the first wrong step; -1 = none
};

/// Label `response`'s steps against the reference `solution` (same step
/// format): a step is right when it and every step before it equal the
/// reference's, line for line. A response longer than the reference is wrong
/// from the first extra step.
StepLabels label_steps(const std::string& solution, const std::string& response);

/// The kinds of first error a response can make on the arith task.
enum class SlipKind { Result, Operand, Carry, Rest, Boxed, Structure };
const char* to_string(SlipKind kind);

/// What went wrong at a response's first wrong step, against the reference.
struct Slip {
  SlipKind kind = SlipKind::Structure;
  int position = 0;          ///< 0-based step index
  int delta = 0;             ///< got - expected: the result (Result, Boxed) or the digit (Operand, Rest)
  std::string example = {};  ///< "wrong step | right step" (the right one absent for an extra step)
};

/// Classify the first error of `response` (nullopt when it has none):
///   Result     "a op b = c" with the right a, op, b and a wrong c (delta: c - right c)
///   Operand    a wrong operation: its digit (delta: b' - b) or its sign (delta 0)
///   Carry      a wrong leading value a (the previous result miscopied; delta: a' - a)
///   Rest       the right "a op b = c" and one operation of the rewritten rest
///              miscopied: its digit (delta) or its sign (delta 0)
///   Boxed      the right steps and a wrong \boxed{} value
///   Structure  anything else: a missing, extra or unreadable step, a dropped operation
std::optional<Slip> classify_slip(const Problem& reference, const std::string& response);

/// The distribution of first errors: counts per kind, and the deltas of each
/// kind. Made by `genius slips` from a model's samples; a default measured
/// on the embedded base model is built in.
struct SlipModel {
  std::map<SlipKind, std::int64_t> kinds;                  ///< how many first errors of each kind
  std::map<SlipKind, std::map<int, std::int64_t>> deltas;  ///< per kind: delta -> count
  std::map<int, std::int64_t> positions;                   ///< first-error step index -> count
  std::map<SlipKind, std::vector<std::string>> examples;   ///< per kind, a few "wrong step | right step"
  std::int64_t responses = 0, wrong_responses = 0, correct_answers = 0;

  void add(const Slip& slip);
  /// {"responses", "wrong_responses", "correct_answers", "kinds": {...}, "deltas": {kind: {delta: n}}, "positions"}.
  nlohmann::json to_json() const;
  /// Throws std::runtime_error naming the missing or mistyped field.
  static SlipModel from_json(const nlohmann::json& j);
  /// The distribution measured on examples/arith/base-model (docs/critique.md).
  static const SlipModel& embedded_default();
};

/// A flawed version of `problem`: one slip drawn from `slips` (kinds other
/// than Structure, in their measured proportions; the position uniform over
/// the steps where the kind can occur; the delta from the kind's measured
/// deltas), the rest of the solution carried on from the slip, as a consistent
/// solver would. Every value stays a non-negative integer (a slip that would
/// break that is drawn again). `first_error` is the slipped step's index.
struct FlawedSolution {
  std::string solution;
  int first_error = 0;
  Slip slip;
};
FlawedSolution inject_slip(const Problem& problem, const SlipModel& slips, std::mt19937_64& rng);

/// The critique task over arith (`arith-critique`): the prompt is the query,
/// the solution the critique (critique::render) of a correct solution or,
/// half of the time, of a flawed one; the answer is "correct" or "wrong".
std::unique_ptr<Task> make_arith_critique_task(SlipModel slips);

}  // namespace genius::core
