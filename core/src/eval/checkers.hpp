// Answer checkers: how a benchmark reads the final answer out of a response
// and decides whether it equals the reference (docs/data.md). One per
// benchmark family, chosen by name ([eval] checker, `genius answer`):
//
//   boxed   the last \boxed{...}; answers compared as normalize_answer does (the default)
//   regex   the first group of the last match of [eval] answer_regex
//   gsm8k   "The answer is N" / "#### N" / \boxed{N}, else the last number; numeric equality
//           (commas, signs, decimals, $ and % and trailing units handled); a reference
//           "... #### 72" is read as 72
//   math    the last \boxed{} (nested braces) or "the answer is $x$"; LaTeX normalised
//           (\dfrac, \tfrac, \frac12, \left/\right, spaces, \text{} units, degrees, percent,
//           "x =") and numerically equal forms equal (0.5 = \frac{1}{2} = 1/2)
//   choice  the chosen option letter ("The answer is (B)", "Answer: B", \boxed{B}, a lone
//           letter); a reference may be a letter or a 0-based index
//   yesno   the last yes/no (true/false) of the response; a reference may be a JSON bool
//
//   const AnswerChecker& c = answer_checker("math");
//   std::optional<std::string> a = c.extract(response);
//   bool right = a && c.equal(*a, c.reference(raw_reference));
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genius::core {

class AnswerChecker {
 public:
  virtual ~AnswerChecker() = default;
  virtual std::string name() const = 0;
  /// The final answer of `response`, or nullopt when it gives none.
  virtual std::optional<std::string> extract(std::string_view response) const = 0;
  /// A dataset's reference as this checker compares it (GSM8K's worked
  /// solution "... #### 72" -> "72", MATH's solution -> its boxed answer).
  virtual std::string reference(std::string_view raw) const { return std::string(raw); }
  /// Whether an extracted answer equals a reference (both as reference() returns them).
  virtual bool equal(std::string_view answer, std::string_view reference) const = 0;
  /// The canonical form equal() compares (for listings and `genius answer`).
  virtual std::string canonical(std::string_view answer) const = 0;
};

/// The checker called `name` (`regex` uses `answer_regex`). Throws
/// genius::ConfigError naming the checkers for an unknown name, and for an
/// invalid or missing regex.
std::unique_ptr<AnswerChecker> make_checker(const std::string& name, const std::string& answer_regex = "");
/// Every checker's name.
const std::vector<std::string>& checker_names();

// The rules, exposed for tests and for plugins of this tree.

/// The number a text states ("1,234.50" -> 1234.5, "-3", "$12", "45%", "7 apples"), or nullopt.
std::optional<double> parse_number(std::string_view text);
/// MATH's normal form of a LaTeX answer (see the header comment).
std::string normalize_latex(std::string_view answer);
/// The value of a normalised LaTeX number: "0.5", "\frac{1}{2}", "-\frac{3}{4}", "1/2", "2\frac{1}{2}" no.
std::optional<double> latex_value(std::string_view normalized);

}  // namespace genius::core
