#include "eval/benchmarks.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

namespace genius::core {

using nlohmann::json;

namespace {

const json* get(const json& o, const char* key) {
  const auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

std::string text_of(const json& v, const std::string& where, const char* what) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  throw std::runtime_error(where + ": " + what + " must be a string");
}

// "A. first\nB. second\n..." under the question (and its context).
std::string render(const std::string& context, const std::string& question, const std::vector<std::string>& options) {
  std::string prompt = context.empty() ? question : context + "\n\n" + question;
  prompt += "\n";
  for (std::size_t i = 0; i < options.size(); ++i) prompt += "\n" + std::string(1, char('A' + i)) + ". " + options[i];
  return prompt;
}

// The letter of a reference given as a letter ("C"), a label among `labels`
// ("3" in ARC's numeric labels) or a 0-based index.
std::string letter_of(const json& answer, const std::vector<std::string>& labels, std::size_t options,
                      const std::string& where) {
  if (answer.is_number_integer()) {
    const auto i = answer.get<std::int64_t>();
    if (i < 0 || static_cast<std::size_t>(i) >= options)
      throw std::runtime_error(where + ": answer index " + std::to_string(i) + " is not one of the " +
                               std::to_string(options) + " options");
    return std::string(1, char('A' + i));
  }
  if (!answer.is_string()) throw std::runtime_error(where + ": the answer must be an option letter or index");
  const std::string a = answer.get<std::string>();
  const auto at = std::find(labels.begin(), labels.end(), a);
  if (at != labels.end()) return std::string(1, char('A' + (at - labels.begin())));
  if (a.size() == 1 && a[0] >= 'A' && static_cast<std::size_t>(a[0] - 'A') < options) return a;
  if (a.size() == 1 && a[0] >= 'a' && static_cast<std::size_t>(a[0] - 'a') < options)
    return std::string(1, char(a[0] - 'a' + 'A'));
  throw std::runtime_error(where + ": answer '" + a + "' names none of the " + std::to_string(options) + " options");
}

std::vector<std::string> strings(const json& list, const std::string& where, const char* what) {
  if (!list.is_array() || list.empty()) throw std::runtime_error(where + ": " + what + " must be a non-empty list");
  if (list.size() > 10) throw std::runtime_error(where + ": " + what + " has more than 10 options (A-J)");
  std::vector<std::string> out;
  for (const json& v : list) out.push_back(text_of(v, where, what));
  return out;
}

std::optional<BenchmarkItem> choice_item(const json& o, const std::string& where, std::uint64_t seed) {
  // GPQA: the right answer and three wrong ones, shuffled per item.
  if (const json* q = get(o, "Question"); q && get(o, "Correct Answer")) {
    std::vector<std::string> options = {text_of(o["Correct Answer"], where, "'Correct Answer'")};
    for (const char* k : {"Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"})
      if (const json* w = get(o, k)) options.push_back(text_of(*w, where, k));
    std::vector<std::size_t> order(options.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::string> shuffled;
    std::size_t right = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      shuffled.push_back(options[order[i]]);
      if (order[i] == 0) right = i;
    }
    return BenchmarkItem{render("", text_of(*q, where, "'Question'"), shuffled), std::string(1, char('A' + right)),
                         "choice"};
  }
  const json* question = get(o, "question");
  if (!question) question = get(o, "query");
  if (!question) return std::nullopt;
  const std::string context = get(o, "context") ? text_of(o["context"], where, "'context'") : "";
  std::vector<std::string> options, labels;
  std::string stem;
  if (question->is_object()) {  // ARC's original layout
    stem = text_of(question->value("stem", json()), where, "question.stem");
    const json& choices = (*question)["choices"];
    if (!choices.is_array()) throw std::runtime_error(where + ": question.choices must be a list");
    for (const json& c : choices) {
      options.push_back(text_of(c.value("text", json()), where, "a choice's text"));
      labels.push_back(text_of(c.value("label", json()), where, "a choice's label"));
    }
  } else {
    stem = text_of(*question, where, "'question'");
    const json* choices = get(o, "choices");
    if (!choices) choices = get(o, "options");
    if (!choices) choices = get(o, "answers");  // ReClor
    if (!choices) return std::nullopt;
    if (choices->is_object()) {  // ARC on the Hugging Face hub: {"text": [...], "label": [...]}
      options = strings(choices->value("text", json()), where, "choices.text");
      labels = strings(choices->value("label", json()), where, "choices.label");
      if (labels.size() != options.size())
        throw std::runtime_error(where + ": choices.text and choices.label differ in length");
    } else {
      options = strings(*choices, where, "the options");
    }
  }
  const json* answer = get(o, "answerKey");
  for (const char* k : {"correct_option", "label", "answer"})
    if (!answer) answer = get(o, k);
  if (!answer) throw std::runtime_error(where + ": a multiple-choice item without answerKey, answer or label");
  return BenchmarkItem{render(context, stem, options), letter_of(*answer, labels, options.size(), where), "choice"};
}

}  // namespace

std::optional<BenchmarkItem> parse_benchmark_item(const json& o, const std::string& where, std::uint64_t seed) {
  if (!o.is_object()) return std::nullopt;
  if (const json* problem = get(o, "problem")) {  // MATH, MATH-500
    const json* reference = get(o, "answer");
    if (!reference) reference = get(o, "solution");
    if (!reference) throw std::runtime_error(where + ": a MATH item needs 'answer' or 'solution'");
    return BenchmarkItem{text_of(*problem, where, "'problem'"), text_of(*reference, where, "the answer"), "math"};
  }
  const json* question = get(o, "question");
  const json* answer = get(o, "answer");
  if (question && question->is_string() && answer && answer->is_boolean())  // StrategyQA
    return BenchmarkItem{question->get<std::string>(), answer->get<bool>() ? "yes" : "no", "yesno"};
  if (question && question->is_string() && answer && answer->is_string() &&
      answer->get<std::string>().find("####") != std::string::npos && !get(o, "choices") && !get(o, "options"))
    return BenchmarkItem{question->get<std::string>(), answer->get<std::string>(), "gsm8k"};
  return choice_item(o, where, seed);
}

std::string default_checker(const std::string& layout) {
  if (layout == "gsm8k" || layout == "math" || layout == "choice" || layout == "yesno") return layout;
  return "boxed";
}

}  // namespace genius::core
