// The layouts of public benchmarks that `[data] eval` reads as they are
// released (docs/data.md), each turned into a prompt, a reference and the
// checker that scores it (checkers.hpp):
//
//   gsm8k    {"question", "answer": "... #### 72"}                              -> gsm8k
//   math     {"problem", "solution": "... \boxed{x} ..."} or {"problem", "answer"} -> math
//   choice   ARC {"question", "choices": {"text": [...], "label": [...]}, "answerKey"}
//            ARC (original) {"question": {"stem", "choices": [{"label", "text"}]}, "answerKey"}
//            MMLU {"question", "choices": [...], "answer": 2}
//            GPQA {"Question", "Correct Answer", "Incorrect Answer 1".."3"} (options shuffled per item, seeded)
//            LogiQA {"context", "query" | "question", "options": [...], "correct_option" | "answer"}
//            ReClor {"context", "question", "answers": [...], "label": 1}           -> choice
//   yesno    StrategyQA {"question", "answer": true}                              -> yesno
//
// Multiple-choice options are written into the prompt as "A. ...", "B. ...";
// the reference is the right option's letter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace genius::core {

struct BenchmarkItem {
  std::string prompt;     ///< the query, options included
  std::string reference;  ///< as the checker compares it (a letter, "yes", the raw GSM8K answer, ...)
  std::string layout;     ///< gsm8k | math | choice | yesno
};

/// The benchmark layout `object` is in, read; nullopt when it is in none.
/// Throws std::runtime_error (prefixed by `where`) for a record that is
/// recognisably one layout but malformed (an answer index out of range, a
/// missing option text). `seed` shuffles GPQA's options.
std::optional<BenchmarkItem> parse_benchmark_item(const nlohmann::json& object, const std::string& where,
                                                  std::uint64_t seed);

/// The checker a layout's answers are scored with (plain items: "boxed").
std::string default_checker(const std::string& layout);

}  // namespace genius::core
