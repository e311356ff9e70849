// Held-out evaluation: answer every labeled item with the current policy and
// compare the extracted final answers with the references. Labels are used
// here and nowhere else in a run.
//
//   EvalOptions options = EvalOptions::from_config(cfg.view("eval"), cfg.view("data"), seed);
//   std::vector<EvalItem> items = load_eval_items(options);          // once per run
//   EvalResult r = evaluate(backend, items, options, run_dir / "eval" / "iter_0.jsonl");
//   r.to_json();  // {"items":..,"greedy_accuracy":..,"pass@1":..,...}
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <genius/config.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/model_backend.hpp>

namespace genius::core {

class AnswerChecker;
class Cluster;

/// One labeled evaluation item.
struct EvalItem {
  std::string instruction;                 ///< the query, not yet chat-formatted
  std::string reference;                   ///< the reference final answer
  std::string id = {};                     ///< the item's "id" (a string, or a number's text), else "line-N"
  std::optional<std::int64_t> level = {};  ///< the item's integer "level", when it has one (arith data does)
  std::string checker = "";                ///< the checker that scores it (checkers.hpp); "" = the options'
};

/// Everything evaluate() needs: the [eval] keys, the [data] keys that locate
/// the items, and the run seed.
struct EvalOptions {
  std::filesystem::path items_file;        ///< [data] eval: JSONL of labeled items
  std::string prompt_key = "instruction";  ///< [data] prompt_key
  std::string answer_key = "answer";       ///< [data] answer_key
  std::size_t max_items = 0;               ///< [data] max_eval_queries; 0 = all
  bool greedy = true;                      ///< [eval] greedy: one temperature-0 answer per item
  int samples = 0;                         ///< [eval] samples: k sampled answers per item; 0 = off
  double temperature = 0.6;                ///< [eval] temperature of the sampled answers
  int max_new_tokens = 512;                ///< [eval] max_new_tokens
  std::string answer_regex;                ///< [eval] answer_regex; "" = last \boxed{}
  std::string checker = "auto";            ///< [eval] checker: a checker name, or "auto" (by the item's layout)
  std::vector<std::string> stop;           ///< [eval] stop: stop strings of every answer
  std::size_t shots = 0;                   ///< [eval] shots: exemplars before each query
  std::filesystem::path shots_file;        ///< [eval] shots_file
  std::uint64_t seed = 0;                  ///< request seeds derive from it and the item index
  std::size_t requests_per_call = 64;      ///< most generation requests in one backend.generate call

  /// Options from the validated [eval] and [data] sections and the run seed.
  static EvalOptions from_config(const ConfigView& eval, const ConfigView& data, std::uint64_t seed);
};

/// Aggregate metrics of one evaluation.
struct EvalResult {
  std::size_t items = 0;
  std::size_t samples_per_item = 0;        ///< k (0 when sampling was off)
  std::optional<double> greedy_accuracy;   ///< fraction of items whose greedy answer is right
  std::optional<double> greedy_answered;   ///< fraction of greedy responses with an extractable answer
  std::optional<double> pass_at_1;         ///< mean over items of (right samples / k)
  std::optional<double> sampled_answered;  ///< fraction of all samples with an extractable answer
  std::int64_t generated_tokens = 0;       ///< every token generated (cost)
  std::size_t generate_calls = 0;          ///< backend.generate calls made
  std::vector<bool> greedy_correct;        ///< per item, whether its greedy answer is right (greedy on only)

  /// {"items", "samples", "greedy_accuracy", "greedy_answered", "pass@1",
  ///  "sampled_answered", "generated_tokens", "generate_calls"}; metrics that
  /// were not computed are absent.
  nlohmann::json to_json() const;
};

/// Read the items of `options.items_file` (at most `options.max_items`).
/// Each non-blank line is a JSON object with a string under `prompt_key` and
/// a string or number under `answer_key`. Throws std::runtime_error naming
/// `file:line` for a line that is not JSON or not an object, a missing or
/// mistyped field, an empty answer; and naming the file when it cannot be
/// read or holds no item.
std::vector<EvalItem> load_eval_items(const EvalOptions& options);

/// Answer every item (greedy and/or `samples` sampled answers, batched into
/// as few backend.generate calls as `requests_per_call` allows), score the
/// answers, write one JSON line per item to `items_out` atomically, and
/// return the metrics. The same seed gives the same result, whatever the
/// batch size. Throws genius::ConfigError for an invalid answer_regex and
/// genius::PluginError when the backend returns the wrong number of results.
///
/// With a distributed `cluster`, the generate calls are shared out among the
/// ranks (call c on rank c % world, each call the same requests as in one
/// process), every rank gets every answer and the same result, and rank 0
/// alone writes `items_out`.
EvalResult evaluate(ModelBackend& backend, const std::vector<EvalItem>& items, const EvalOptions& options,
                    const std::filesystem::path& items_out, Cluster* cluster = nullptr);

/// Reads and judges the responses to loaded items as evaluate() does: by each
/// item's checker (the options' [eval] checker, else the item's layout's;
/// references are already in the checker's form, load_eval_items()).
///
///   AnswerJudge judge(options);
///   AnswerJudge::Verdict v = judge(item, response);   // v.answer, v.right
class AnswerJudge {
 public:
  struct Verdict {
    std::optional<std::string> answer;  ///< nullopt: the response gives none
    bool right = false;
  };
  explicit AnswerJudge(const EvalOptions& options);
  ~AnswerJudge();
  AnswerJudge(AnswerJudge&&) noexcept;
  AnswerJudge& operator=(AnswerJudge&&) noexcept;
  /// Throws genius::ConfigError for an invalid answer_regex (on first use of the regex checker).
  Verdict operator()(const EvalItem& item, const std::string& response) const;
  /// Whether two extracted answers to `item` are the same answer (its checker's equality).
  bool same(const EvalItem& item, const std::string& a, const std::string& b) const;
  /// Make every checker `items` need now: an invalid answer_regex fails
  /// before any generation.
  void prepare(const std::vector<EvalItem>& items) const;

 private:
  struct Checkers;
  EvalOptions options_;
  std::unique_ptr<Checkers> checkers_;
  const AnswerChecker& checker(const EvalItem& item) const;
};

/// The extractor of `[eval] answer_regex` ("" = the last \boxed{}); throws
/// genius::ConfigError naming the key for an invalid regex.
AnswerExtractor answer_extractor(const std::string& answer_regex);

/// load_eval_items(options), then evaluate().
EvalResult evaluate(ModelBackend& backend, const EvalOptions& options, const std::filesystem::path& items_out,
                    Cluster* cluster = nullptr);

}  // namespace genius::core
