#include "eval/evaluator.hpp"

#include "data/query_formats.hpp"
#include "dist/cluster.hpp"
#include "eval/benchmarks.hpp"
#include "eval/checkers.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/json_text.hpp>

namespace genius::core {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// splitmix64 of (seed, item index): each item's samples depend on the run
// seed and the item alone, not on which items share a generate call.
std::uint64_t item_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string where(const fs::path& file, std::size_t line) {
  return file.string() + ":" + std::to_string(line);
}

// The reference answer as text: JSON strings as they are, numbers as written
// in a dataset (GSM8K-style `"answer": 18`).
std::optional<std::string> answer_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return value.dump();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  return std::nullopt;
}

// One item from one JSONL line, or an error naming file:line.
EvalItem parse_item(const std::string& text, const fs::path& file, std::size_t line, const EvalOptions& options) {
  json object;
  if (const std::string deep = json_depth_problem(text); !deep.empty())
    throw std::runtime_error(where(file, line) + ": not valid JSON (" + deep + ")");
  try {
    object = json::parse(text);
  } catch (const json::exception& e) {
    throw std::runtime_error(where(file, line) + ": not valid JSON (" + json_error_text(e) + ")");
  }
  if (!object.is_object())
    throw std::runtime_error(where(file, line) + ": expected a JSON object, got " + object.type_name());
  auto field = [&](const std::string& key) -> const json& {
    const auto it = object.find(key);
    if (it == object.end()) throw std::runtime_error(where(file, line) + ": no '" + key + "' field");
    return *it;
  };
  // A public benchmark's own layout (GSM8K, MATH, ARC, MMLU, GPQA, ...), unless
  // the item has the configured prompt field.
  std::string prompt_key = options.prompt_key;
  if (!object.contains(prompt_key)) {
    if (auto b =
            parse_benchmark_item(object, where(file, line), item_seed(options.seed ^ 0x6770716100000000ULL, line))) {
      EvalItem item{b->prompt, b->reference, "line-" + std::to_string(line), std::nullopt, default_checker(b->layout)};
      if (const auto id = object.find("id"); id != object.end())
        item.id = id->is_string() ? id->get<std::string>() : id->dump();
      return item;
    }
    for (const char* alternative : {"question", "prompt", "query"})
      if (object.contains(alternative) && object.contains(options.answer_key)) prompt_key = alternative;
  }
  const json& prompt = field(prompt_key);
  if (!prompt.is_string())
    throw std::runtime_error(where(file, line) + ": '" + prompt_key + "' must be a string, got " + prompt.type_name());
  const json& answer = field(options.answer_key);
  const std::optional<std::string> reference = answer_text(answer);
  if (!reference)
    throw std::runtime_error(where(file, line) + ": '" + options.answer_key + "' must be a string or a number, got " +
                             answer.type_name());
  if (normalize_answer(*reference).empty())
    throw std::runtime_error(where(file, line) + ": '" + options.answer_key + "' is empty (an item needs an answer)");
  EvalItem item{prompt.get<std::string>(), *reference, "line-" + std::to_string(line), std::nullopt, ""};
  if (const auto id = object.find("id"); id != object.end() && !id->is_null()) {
    if (!id->is_string() && !id->is_number_integer())
      throw std::runtime_error(where(file, line) + ": 'id' must be a string or an integer, got " + id->type_name());
    item.id = id->is_string() ? id->get<std::string>() : id->dump();
  }
  if (const auto level = object.find("level"); level != object.end() && !level->is_null()) {
    if (!level->is_number_integer())
      throw std::runtime_error(where(file, line) + ": 'level' must be an integer, got " + level->type_name());
    item.level = level->get<std::int64_t>();
  }
  return item;
}

// One generated answer, as the item files and metrics need it.
struct Answer {
  std::string text;
  std::string finish_reason;
  int tokens = 0;
};

// The checker of an item: [eval] checker when it names one, else the item's
// layout's (plain items: boxed, or regex with an answer_regex).
std::string checker_for(const EvalItem& item, const EvalOptions& options) {
  if (options.checker != "auto" && !options.checker.empty()) return options.checker;
  if (!item.checker.empty()) return item.checker;
  return options.answer_regex.empty() ? "boxed" : "regex";
}

// The first `k` exemplars of `file`, each "<question>\n<answer>\n\n": what
// goes before every query of a k-shot evaluation.
std::string few_shot_prefix(const fs::path& file, std::size_t k) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read [eval] shots_file '" + file.string() + "'");
  std::string prefix, text;
  std::size_t line = 0, found = 0;
  auto first_string = [](const json& o, std::initializer_list<const char*> keys) -> std::optional<std::string> {
    for (const char* key : keys)
      if (const auto it = o.find(key); it != o.end() && it->is_string()) return it->get<std::string>();
    return std::nullopt;
  };
  while (found < k && std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json o = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!o.is_object()) throw std::runtime_error(where(file, line) + ": not a JSON object");
    const auto question = first_string(o, {"question", "problem", "instruction", "prompt"});
    const auto answer = first_string(o, {"answer", "solution", "response", "output"});
    if (!question || !answer)
      throw std::runtime_error(where(file, line) +
                               ": an exemplar needs a question/problem/instruction/prompt and an "
                               "answer/solution/response/output string");
    prefix += *question + "\n" + *answer + "\n\n";
    ++found;
  }
  if (found < k)
    throw std::runtime_error(file.string() + ": " + std::to_string(found) +
                             " exemplars, but shots = " + std::to_string(k));
  return prefix;
}

// What one item's generations came to.
struct ItemOutcome {
  std::optional<Answer> greedy;
  std::optional<std::string> greedy_answer;
  bool greedy_correct = false;
  std::vector<std::optional<std::string>> sample_answers;
  std::vector<bool> sample_correct;
};

json answer_json(const std::optional<std::string>& answer) {
  return answer ? json(*answer) : json(nullptr);
}

json item_json(std::size_t index, const EvalItem& item, const ItemOutcome& outcome) {
  json line = {{"index", index}, {"instruction", item.instruction}, {"reference", item.reference}};
  if (outcome.greedy) {
    line["greedy"] = {{"response", outcome.greedy->text},
                      {"answer", answer_json(outcome.greedy_answer)},
                      {"correct", outcome.greedy_correct},
                      {"finish_reason", outcome.greedy->finish_reason},
                      {"tokens", outcome.greedy->tokens}};
  }
  if (!outcome.sample_answers.empty()) {
    json samples = json::array();
    std::size_t correct = 0;
    for (std::size_t s = 0; s < outcome.sample_answers.size(); ++s) {
      samples.push_back(
          {{"answer", answer_json(outcome.sample_answers[s])}, {"correct", bool(outcome.sample_correct[s])}});
      correct += outcome.sample_correct[s] ? 1 : 0;
    }
    line["samples"] = std::move(samples);
    line["samples_correct"] = correct;
  }
  return line;
}

// Which item a request answers, and whether it is the greedy one.
struct RequestSlot {
  std::size_t item = 0;
  bool greedy = false;
};

// Every rank's answers to the calls it ran, to every rank (MessagePack keeps
// the model's bytes as they are, valid UTF-8 or not); the call count summed.
void share_answers(Cluster& cluster, std::vector<std::vector<Answer>>& answers, EvalResult& result) {
  json mine = json::array();
  for (std::size_t j = 0; j < answers.size(); ++j) {
    if (answers[j].empty()) continue;
    json samples = json::array();
    for (const Answer& a : answers[j]) samples.push_back(json::array({a.text, a.finish_reason, a.tokens}));
    mine.push_back(json::array({j, std::move(samples)}));
  }
  const std::vector<std::uint8_t> packed = json::to_msgpack(json{{"calls", result.generate_calls}, {"answers", mine}});
  std::size_t calls = 0;
  for (const std::string& part : cluster.all_gather("eval answers", std::string(packed.begin(), packed.end()))) {
    const json theirs = json::from_msgpack(part);
    calls += theirs["calls"].get<std::size_t>();
    for (const json& request : theirs["answers"]) {
      std::vector<Answer>& slot = answers.at(request[0].get<std::size_t>());
      if (!slot.empty()) continue;  // this rank's own
      for (const json& a : request[1])
        slot.push_back({a[0].get<std::string>(), a[1].get<std::string>(), a[2].get<int>()});
    }
  }
  result.generate_calls = calls;
}

}  // namespace

AnswerExtractor answer_extractor(const std::string& pattern) {
  try {
    return AnswerExtractor(pattern);
  } catch (const std::regex_error& e) {
    throw ConfigError("eval.answer_regex: invalid regular expression '" + pattern + "': " + e.what());
  }
}

EvalOptions EvalOptions::from_config(const ConfigView& eval, const ConfigView& data, std::uint64_t seed) {
  EvalOptions o;
  o.items_file = data.get<std::string>("eval");
  o.prompt_key = data.get<std::string>("prompt_key");
  o.answer_key = data.get<std::string>("answer_key");
  o.max_items = data.get<std::size_t>("max_eval_queries");
  o.greedy = eval.get<bool>("greedy");
  o.samples = eval.get<int>("samples");
  o.temperature = eval.get<double>("temperature");
  o.max_new_tokens = eval.get<int>("max_new_tokens");
  o.answer_regex = eval.get<std::string>("answer_regex");
  o.checker = eval.get<std::string>("checker");
  o.stop = eval.get<std::vector<std::string>>("stop");
  o.shots = eval.get<std::size_t>("shots");
  o.shots_file = eval.get<std::string>("shots_file");
  if (o.shots > 0 && o.shots_file.empty())
    throw ConfigError("eval.shots = " + std::to_string(o.shots) + " needs [eval] shots_file (the exemplars)");
  o.seed = seed;
  return o;
}

json EvalResult::to_json() const {
  json j = {{"items", items}, {"samples", samples_per_item}};
  if (greedy_accuracy) j["greedy_accuracy"] = *greedy_accuracy;
  if (greedy_answered) j["greedy_answered"] = *greedy_answered;
  if (pass_at_1) j["pass@1"] = *pass_at_1;
  if (sampled_answered) j["sampled_answered"] = *sampled_answered;
  j["generated_tokens"] = generated_tokens;
  j["generate_calls"] = generate_calls;
  return j;
}

std::vector<EvalItem> load_eval_items(const EvalOptions& options) {
  const fs::path& file = options.items_file;
  if (file.empty()) throw std::runtime_error("no evaluation file: set [data] eval");
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read evaluation file '" + file.string() + "'");
  std::vector<EvalItem> items;
  std::map<std::string, std::unique_ptr<AnswerChecker>> checkers;
  std::size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines separate nothing
    EvalItem item = parse_item(line, file, line_number, options);
    if (item.instruction.size() > kMaxPromptBytes)
      throw std::runtime_error(where(file, line_number) + ": the prompt is " + std::to_string(item.instruction.size()) +
                               " bytes, more than the " + std::to_string(kMaxPromptBytes) + " a prompt may have");
    item.checker = checker_for(item, options);
    std::unique_ptr<AnswerChecker>& checker = checkers[item.checker];
    if (!checker) checker = make_checker(item.checker, options.answer_regex);
    item.reference = checker->reference(item.reference);
    if (checker->canonical(item.reference).empty())
      throw std::runtime_error(where(file, line_number) + ": the reference answer is empty (checker '" + item.checker +
                               "')");
    items.push_back(std::move(item));
    if (options.max_items > 0 && items.size() == options.max_items) break;
  }
  if (in.bad()) throw std::runtime_error("cannot read evaluation file '" + file.string() + "'");
  if (items.empty()) throw std::runtime_error(file.string() + ": no evaluation items (the file is empty)");
  if (options.shots > 0) {
    const std::string shots = few_shot_prefix(options.shots_file, options.shots);
    for (EvalItem& item : items) item.instruction = shots + item.instruction;
  }
  return items;
}

struct AnswerJudge::Checkers {
  std::map<std::string, std::unique_ptr<AnswerChecker>> by_name;
};

AnswerJudge::AnswerJudge(const EvalOptions& options) : options_(options), checkers_(std::make_unique<Checkers>()) {}
AnswerJudge::~AnswerJudge() = default;
AnswerJudge::AnswerJudge(AnswerJudge&&) noexcept = default;
AnswerJudge& AnswerJudge::operator=(AnswerJudge&&) noexcept = default;

const AnswerChecker& AnswerJudge::checker(const EvalItem& item) const {
  const std::string name = checker_for(item, options_);
  std::unique_ptr<AnswerChecker>& check = checkers_->by_name[name];
  if (!check) check = make_checker(name, options_.answer_regex);
  return *check;
}

bool AnswerJudge::same(const EvalItem& item, const std::string& a, const std::string& b) const {
  return checker(item).equal(a, b);
}

void AnswerJudge::prepare(const std::vector<EvalItem>& items) const {
  for (const EvalItem& item : items) checker(item);
}

AnswerJudge::Verdict AnswerJudge::operator()(const EvalItem& item, const std::string& response) const {
  const AnswerChecker& check = checker(item);
  Verdict v{check.extract(response), false};
  v.right = v.answer && check.equal(*v.answer, item.reference);
  return v;
}

EvalResult evaluate(ModelBackend& backend, const std::vector<EvalItem>& items, const EvalOptions& options,
                    const fs::path& items_out, Cluster* cluster) {
  const AnswerJudge judge(options);
  judge.prepare(items);
  const std::size_t k = options.samples > 0 ? static_cast<std::size_t>(options.samples) : 0;
  const std::size_t per_call = std::max<std::size_t>(1, options.requests_per_call);

  // One greedy request and one request for the k samples per item (the
  // samples share the prompt's prefill).
  std::vector<GenerationRequest> requests;
  std::vector<RequestSlot> slots;
  for (std::size_t i = 0; i < items.size(); ++i) {
    GenerationRequest r;
    r.prompt_ids = backend.encode(backend.format_chat(items[i].instruction));
    r.max_new_tokens = options.max_new_tokens;
    r.stop = options.stop;
    r.seed = item_seed(options.seed, i);
    if (options.greedy) {
      r.n = 1;
      r.temperature = 0.0;
      requests.push_back(r);
      slots.push_back({i, true});
    }
    if (k > 0) {
      r.n = static_cast<int>(k);
      r.temperature = options.temperature;
      requests.push_back(std::move(r));
      slots.push_back({i, false});
    }
  }

  // Calls of up to per_call requests, in order; with several ranks, call c
  // runs on rank c % world, so every call holds the same requests as in a
  // one-rank run (and gives the same answers), then the answers are shared.
  EvalResult result;
  result.items = items.size();
  result.samples_per_item = k;
  const int world = cluster ? cluster->world() : 1, rank = cluster ? cluster->rank() : 0;
  std::vector<std::vector<Answer>> answers(requests.size());
  std::size_t call_index = 0;
  for (std::size_t begin = 0; begin < requests.size(); begin += per_call, ++call_index) {
    if (static_cast<int>(call_index % static_cast<std::size_t>(world)) != rank) continue;
    const std::size_t end = std::min(requests.size(), begin + per_call);
    const std::vector<GenerationRequest> call(requests.begin() + static_cast<std::ptrdiff_t>(begin),
                                              requests.begin() + static_cast<std::ptrdiff_t>(end));
    std::vector<GenerationResult> results = backend.generate(call);
    ++result.generate_calls;
    if (results.size() != call.size())
      throw PluginError(backend.name(), "generate returned " + std::to_string(results.size()) + " results for " +
                                            std::to_string(call.size()) + " requests");
    for (std::size_t j = 0; j < call.size(); ++j) {
      const auto& samples = results[j].samples;
      if (samples.size() != static_cast<std::size_t>(call[j].n))
        throw PluginError(backend.name(), "generate returned " + std::to_string(samples.size()) +
                                              " samples for a request of n = " + std::to_string(call[j].n));
      for (const GeneratedSample& g : samples)
        answers[begin + j].push_back({g.text, to_string(g.finish_reason), g.num_tokens()});
    }
    spdlog::debug("eval: {}/{} generation requests done", end, requests.size());
  }
  if (world > 1) share_answers(*cluster, answers, result);

  std::vector<ItemOutcome> outcomes(items.size());
  for (std::size_t j = 0; j < requests.size(); ++j) {
    const RequestSlot slot = slots[j];
    const EvalItem& item = items[slot.item];
    ItemOutcome& outcome = outcomes[slot.item];
    for (const Answer& a : answers[j]) result.generated_tokens += a.tokens;
    if (slot.greedy) {
      const AnswerJudge::Verdict v = judge(item, answers[j][0].text);
      outcome.greedy_answer = v.answer;
      outcome.greedy_correct = v.right;
      outcome.greedy = std::move(answers[j][0]);
    } else {
      for (const Answer& a : answers[j]) {
        const AnswerJudge::Verdict v = judge(item, a.text);
        outcome.sample_answers.push_back(v.answer);
        outcome.sample_correct.push_back(v.right);
      }
    }
  }

  // Metrics: greedy accuracy, and pass@1 = mean over items of (right samples / k).
  const double n_items = static_cast<double>(items.size());
  if (options.greedy && !items.empty()) {
    std::size_t correct = 0, answered = 0;
    for (const ItemOutcome& o : outcomes) {
      correct += o.greedy_correct ? 1 : 0;
      answered += o.greedy_answer ? 1 : 0;
      result.greedy_correct.push_back(o.greedy_correct);
    }
    result.greedy_accuracy = static_cast<double>(correct) / n_items;
    result.greedy_answered = static_cast<double>(answered) / n_items;
  }
  if (k > 0 && !items.empty()) {
    double pass_sum = 0;
    std::size_t answered = 0;
    for (const ItemOutcome& o : outcomes) {
      pass_sum += static_cast<double>(std::count(o.sample_correct.begin(), o.sample_correct.end(), true)) /
                  static_cast<double>(k);
      answered += static_cast<std::size_t>(
          std::count_if(o.sample_answers.begin(), o.sample_answers.end(), [](const auto& a) { return a.has_value(); }));
    }
    result.pass_at_1 = pass_sum / n_items;
    result.sampled_answered = static_cast<double>(answered) / (n_items * static_cast<double>(k));
  }

  // Model output may be any bytes: invalid UTF-8 is written as U+FFFD rather
  // than failing the run at the last moment.
  if (cluster && !cluster->leader()) return result;
  std::string lines;
  for (std::size_t i = 0; i < items.size(); ++i)
    lines += item_json(i, items[i], outcomes[i]).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  if (items_out.has_parent_path()) fs::create_directories(items_out.parent_path());
  write_file_atomic(items_out, lines);
  return result;
}

EvalResult evaluate(ModelBackend& backend, const EvalOptions& options, const fs::path& items_out, Cluster* cluster) {
  return evaluate(backend, load_eval_items(options), options, items_out, cluster);
}

}  // namespace genius::core
