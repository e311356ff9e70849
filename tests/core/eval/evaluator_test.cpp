// The evaluator: metrics known by hand from a scripted backend, batching and
// seeds, the per-item file, bad evaluation files; then once with a tiny real
// model made by `genius init-model`.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <genius/error.hpp>
#include <genius/helpers/atomic_file.hpp>
#include <genius/model_backend.hpp>

#include "byte_backend.hpp"
#include "config/config.hpp"
#include "eval/evaluator.hpp"
#include "plugins/plugin_registry.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("genius_evaluator_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
  return file;
}

std::vector<json> read_lines(const fs::path& file) {
  std::vector<json> lines;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// A backend whose answers are scripted per query: one text for the greedy
// request and a list for the sampled ones. Tokens are bytes; it records every
// generate call.
class ScriptedBackend : public test::ByteBackend {
 public:
  std::map<std::string, std::string> greedy;                // query -> greedy response
  std::map<std::string, std::vector<std::string>> sampled;  // query -> sampled responses (cycled)
  std::vector<std::vector<GenerationRequest>> calls;

  ScriptedBackend() : ByteBackend("scripted") {}

  std::string format_chat(std::string_view user_message) const override {
    return "Q: " + std::string(user_message) + "\nA:";
  }

  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override {
    calls.push_back(requests);
    std::vector<GenerationResult> results;
    for (const GenerationRequest& r : requests) {
      std::string query = decode(r.prompt_ids);
      query = query.substr(3, query.size() - 6);  // strip "Q: " and "\nA:"
      GenerationResult result;
      for (int s = 0; s < r.n; ++s) {
        const std::string text =
            r.temperature == 0 ? greedy.at(query) : sampled.at(query).at(static_cast<std::size_t>(s));
        result.samples.push_back({encode(text), text, -1.0, FinishReason::Eos});
      }
      results.push_back(std::move(result));
    }
    return results;
  }
};

// Three items: greedy right on 2 of 3 (one wrong, one without an answer);
// 4 samples each, right 1, 2 and 4 times.
struct ThreeItems {
  ScriptedBackend backend;
  std::vector<EvalItem> items = {{"1+1", "2"}, {"2+3", "5"}, {"3*3", "9"}};
  ThreeItems() {
    backend.greedy = {{"1+1", "so \\boxed{2}"}, {"2+3", "\\boxed{6}"}, {"3*3", "3*3 = \\boxed{ 9 }."}};
    backend.sampled = {
        {"1+1", {"\\boxed{2}", "\\boxed{3}", "no idea", "\\boxed{4}"}},
        {"2+3", {"\\boxed{5}", "\\boxed{5.0}", "\\boxed{4}", "\\boxed{}"}},
        {"3*3", {"\\boxed{9}", "\\boxed{+9}", "\\boxed{9.}", "\\boxed{9}"}},
    };
  }
};

EvalOptions options_with(int samples, bool greedy = true) {
  EvalOptions o;
  o.samples = samples;
  o.greedy = greedy;
  o.temperature = 0.7;
  o.max_new_tokens = 32;
  o.seed = 11;
  return o;
}

TEST(Evaluator, GreedyAccuracyAndSampledPassAt1AreTheHandCountedValues) {
  ThreeItems t;
  const fs::path out = scratch("hand") / "items.jsonl";
  const EvalResult r = evaluate(t.backend, t.items, options_with(4), out);
  EXPECT_EQ(r.items, 3u);
  EXPECT_EQ(r.samples_per_item, 4u);
  EXPECT_DOUBLE_EQ(*r.greedy_accuracy, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*r.greedy_answered, 1.0);
  EXPECT_DOUBLE_EQ(*r.pass_at_1, (1.0 / 4 + 2.0 / 4 + 4.0 / 4) / 3);
  EXPECT_DOUBLE_EQ(*r.sampled_answered, 10.0 / 12.0) << "\"no idea\" and the empty box have no answer";
  EXPECT_EQ(r.generate_calls, 1u) << "6 requests fit in one call";

  const json j = r.to_json();
  EXPECT_EQ(j["items"], 3);
  EXPECT_DOUBLE_EQ(j["greedy_accuracy"].get<double>(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(j["pass@1"].get<double>(), 7.0 / 12.0);

  const std::vector<json> lines = read_lines(out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["instruction"], "1+1");
  EXPECT_EQ(lines[0]["reference"], "2");
  EXPECT_EQ(lines[0]["greedy"]["response"], "so \\boxed{2}");
  EXPECT_EQ(lines[0]["greedy"]["answer"], "2");
  EXPECT_EQ(lines[0]["greedy"]["correct"], true);
  EXPECT_EQ(lines[0]["greedy"]["finish_reason"], "eos");
  EXPECT_EQ(lines[1]["greedy"]["answer"], "6");
  EXPECT_EQ(lines[1]["greedy"]["correct"], false);
  EXPECT_EQ(lines[2]["greedy"]["answer"], " 9 ");
  EXPECT_EQ(lines[2]["greedy"]["correct"], true);
  ASSERT_EQ(lines[0]["samples"].size(), 4u);
  EXPECT_EQ(lines[0]["samples"][2]["answer"], nullptr);
  EXPECT_EQ(lines[0]["samples_correct"], 1);
  EXPECT_EQ(lines[1]["samples_correct"], 2);
  EXPECT_EQ(lines[2]["samples_correct"], 4);
}

TEST(Evaluator, AnItemWithoutAnExtractableAnswerIsWrongAndCountedAsUnanswered) {
  ThreeItems t;
  t.backend.greedy["2+3"] = "five";
  const EvalResult r = evaluate(t.backend, t.items, options_with(0), scratch("unanswered") / "items.jsonl");
  EXPECT_DOUBLE_EQ(*r.greedy_accuracy, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*r.greedy_answered, 2.0 / 3.0);
}

TEST(Evaluator, GreedyOnlyOrSamplesOnlyReportOnlyTheirMetrics) {
  ThreeItems t;
  const fs::path dir = scratch("parts");
  const EvalResult greedy_only = evaluate(t.backend, t.items, options_with(0), dir / "greedy.jsonl");
  EXPECT_TRUE(greedy_only.greedy_accuracy);
  EXPECT_FALSE(greedy_only.pass_at_1);
  EXPECT_FALSE(greedy_only.to_json().contains("pass@1"));
  EXPECT_FALSE(read_lines(dir / "greedy.jsonl")[0].contains("samples"));

  t.backend.calls.clear();
  const EvalResult samples_only = evaluate(t.backend, t.items, options_with(2, false), dir / "samples.jsonl");
  EXPECT_FALSE(samples_only.greedy_accuracy);
  EXPECT_FALSE(samples_only.to_json().contains("greedy_accuracy"));
  EXPECT_DOUBLE_EQ(*samples_only.pass_at_1, (0.5 + 1.0 + 1.0) / 3);
  EXPECT_FALSE(read_lines(dir / "samples.jsonl")[0].contains("greedy"));
  for (const auto& call : t.backend.calls)
    for (const GenerationRequest& r : call) EXPECT_GT(r.temperature, 0.0);
}

TEST(Evaluator, RequestsAreBatchedAndSeededByItemWhateverTheBatchSize) {
  ScriptedBackend backend;
  std::vector<EvalItem> items;
  for (int i = 0; i < 5; ++i) {
    const std::string q = "q" + std::to_string(i);
    items.push_back({q, "1"});
    backend.greedy[q] = "\\boxed{1}";
    backend.sampled[q] = {"\\boxed{1}", "\\boxed{0}", "\\boxed{1}"};
  }
  EvalOptions o = options_with(3);
  o.requests_per_call = 3;
  const fs::path dir = scratch("batches");
  evaluate(backend, items, o, dir / "a.jsonl");
  std::vector<std::size_t> sizes;
  std::vector<GenerationRequest> flat;
  for (const auto& call : backend.calls) {
    sizes.push_back(call.size());
    flat.insert(flat.end(), call.begin(), call.end());
  }
  EXPECT_THAT(sizes, ElementsAre(3u, 3u, 3u, 1u)) << "10 requests (greedy + samples for 5 items), 3 per call";
  ASSERT_EQ(flat.size(), 10u);
  for (std::size_t i = 0; i < 5; ++i) {
    const GenerationRequest& g = flat[2 * i];
    const GenerationRequest& s = flat[2 * i + 1];
    EXPECT_EQ(backend.decode(g.prompt_ids), "Q: q" + std::to_string(i) + "\nA:") << "prompt = format_chat(instruction)";
    EXPECT_EQ(g.n, 1);
    EXPECT_EQ(g.temperature, 0.0);
    EXPECT_EQ(s.n, 3);
    EXPECT_EQ(s.temperature, 0.7);
    EXPECT_EQ(g.max_new_tokens, 32);
    EXPECT_EQ(s.max_new_tokens, 32);
    if (i > 0) {
      EXPECT_NE(s.seed, flat[2 * i - 1].seed) << "each item has its own seed";
    }
  }

  // Another batch size: the same seeds for the same items; another run seed: other seeds.
  auto seeds = [&](std::size_t per_call, std::uint64_t seed) {
    ScriptedBackend b;
    b.greedy = backend.greedy;
    b.sampled = backend.sampled;
    EvalOptions other = o;
    other.requests_per_call = per_call;
    other.seed = seed;
    evaluate(b, items, other, dir / "b.jsonl");
    std::vector<std::uint64_t> out;
    for (const auto& call : b.calls)
      for (const GenerationRequest& r : call) out.push_back(r.seed);
    return out;
  };
  EXPECT_EQ(seeds(64, 11), seeds(1, 11));
  EXPECT_NE(seeds(64, 11), seeds(64, 12));
}

TEST(Evaluator, AnswerRegexAndNumericReferences) {
  ScriptedBackend backend;
  backend.greedy = {{"a", "the answer is 12 and then the answer is 18"}, {"b", "the answer is 7"}};
  std::vector<EvalItem> items = {{"a", "18"}, {"b", "7.0"}};
  EvalOptions o = options_with(0);
  o.answer_regex = "answer is (\\d+)";
  const EvalResult r = evaluate(backend, items, o, scratch("regex") / "items.jsonl");
  EXPECT_DOUBLE_EQ(*r.greedy_accuracy, 1.0) << "the last match counts; 7 == 7.0";

  o.answer_regex = "answer is (\\d+";
  try {
    evaluate(backend, items, o, scratch("regex") / "items.jsonl");
    FAIL() << "an invalid regex must throw";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("eval.answer_regex"));
  }
}

TEST(Evaluator, ABackendReturningTooFewResultsIsAPluginError) {
  class Short : public ScriptedBackend {
    std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& requests) override {
      auto r = ScriptedBackend::generate(requests);
      r.pop_back();
      return r;
    }
  } backend;
  backend.greedy = {{"x", "\\boxed{1}"}};
  try {
    evaluate(backend, {{"x", "1"}}, options_with(0), scratch("short") / "items.jsonl");
    FAIL() << "expected a PluginError";
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("scripted"));
    EXPECT_THAT(e.what(), HasSubstr("0 results for 1 requests"));
  }
}

// ------------------------------------------------------------ eval files

std::string load_error(const std::string& text, const std::string& name = "items.jsonl") {
  EvalOptions o;
  o.items_file = write(scratch("errors") / name, text);
  try {
    load_eval_items(o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(EvalItems, ReadsItemsSkippingBlankLinesWithCustomKeysAndALimit) {
  EvalOptions o;
  o.items_file = write(scratch("items") / "items.jsonl",
                       "{\"q\": \"one\", \"a\": \"1\"}\n\n   \n{\"q\": \"two\", \"a\": 2, \"extra\": true}\r\n"
                       "{\"q\": \"three\", \"a\": 3.5}\n");
  o.prompt_key = "q";
  o.answer_key = "a";
  std::vector<EvalItem> items = load_eval_items(o);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].instruction, "one");
  EXPECT_EQ(items[1].reference, "2");
  EXPECT_EQ(items[2].reference, "3.5");
  o.max_items = 2;
  EXPECT_EQ(load_eval_items(o).size(), 2u);
}

TEST(EvalItems, BadFilesAreNamedWithTheirLine) {
  const std::string ok = "{\"instruction\": \"q\", \"answer\": \"1\"}\n";
  EXPECT_THAT(load_error(ok + "\n{not json\n"), HasSubstr("items.jsonl:3: not valid JSON"));
  EXPECT_THAT(load_error(ok + "[1, 2]\n"), HasSubstr("items.jsonl:2: expected a JSON object, got array"));
  EXPECT_THAT(load_error("{\"answer\": \"1\"}\n"), HasSubstr("items.jsonl:1: no 'instruction' field"));
  EXPECT_THAT(load_error(ok + ok + "{\"instruction\": \"q\"}\n"), HasSubstr("items.jsonl:3: no 'answer' field"));
  EXPECT_THAT(load_error("{\"instruction\": \"q\", \"answer\": \" \"}\n"),
              HasSubstr("items.jsonl:1: 'answer' is empty"));
  EXPECT_THAT(load_error("{\"instruction\": \"q\", \"answer\": null}\n"),
              HasSubstr("items.jsonl:1: 'answer' must be a string or a number, got null"));
  EXPECT_THAT(load_error("{\"instruction\": 3, \"answer\": \"1\"}\n"),
              HasSubstr("items.jsonl:1: 'instruction' must be a string, got number"));
  EXPECT_THAT(load_error(""), HasSubstr("items.jsonl: no evaluation items (the file is empty)"));
  EXPECT_THAT(load_error("\n  \n"), HasSubstr("items.jsonl: no evaluation items"));
  EvalOptions missing;
  missing.items_file = scratch("errors") / "absent.jsonl";
  EXPECT_THROW(load_eval_items(missing), std::runtime_error);
  EXPECT_THROW(load_eval_items(EvalOptions{}), std::runtime_error) << "[data] eval not set";
}

TEST(Evaluator, FewShotExemplarsAndStopStringsReachEveryRequest) {
  const fs::path dir = scratch("shots");
  fs::create_directories(dir);
  std::ofstream(dir / "items.jsonl") << "{\"question\": \"2+2?\", \"answer\": \"Add.\\n#### 4\"}\n";
  std::ofstream(dir / "shots.jsonl") << "{\"question\": \"1+1?\", \"answer\": \"The answer is 2.\"}\n\n"
                                        "{\"problem\": \"3+3?\", \"solution\": \"$\\\\boxed{6}$\"}\n";
  EvalOptions o = options_with(0);
  o.items_file = dir / "items.jsonl";
  o.shots = 2;
  o.shots_file = dir / "shots.jsonl";
  o.stop = {"<end>"};
  const std::vector<EvalItem> items = load_eval_items(o);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].instruction, "1+1?\nThe answer is 2.\n\n3+3?\n$\\boxed{6}$\n\n2+2?");
  EXPECT_EQ(items[0].checker, "gsm8k");
  EXPECT_EQ(items[0].reference, "4");
  ScriptedBackend backend;
  backend.greedy = {{items[0].instruction, "so the answer is 4"}};
  const EvalResult r = evaluate(backend, items, o, dir / "out.jsonl");
  EXPECT_EQ(*r.greedy_accuracy, 1.0);
  ASSERT_EQ(backend.calls.size(), 1u);
  EXPECT_EQ(backend.calls[0][0].stop, std::vector<std::string>{"<end>"});
  o.shots = 3;
  try {
    load_eval_items(o);
    FAIL() << "3 shots from a file of 2";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("shots.jsonl: 2 exemplars, but shots = 3"));
  }
}

TEST(EvalOptionsTest, FromTheEvalAndDataSections) {
  const ConfigView eval("eval", {{"enabled", true},
                                 {"greedy", false},
                                 {"samples", std::int64_t{4}},
                                 {"temperature", 0.8},
                                 {"max_new_tokens", std::int64_t{99}},
                                 {"answer_regex", std::string("x(\\d)")},
                                 {"checker", std::string("math")},
                                 {"stop", std::vector<std::string>{"<end>"}},
                                 {"shots", std::int64_t{0}},
                                 {"shots_file", std::string("")}});
  const ConfigView data("data", {{"eval", std::string("/data/eval.jsonl")},
                                 {"prompt_key", std::string("question")},
                                 {"answer_key", std::string("label")},
                                 {"max_eval_queries", std::int64_t{10}}});
  const EvalOptions o = EvalOptions::from_config(eval, data, 42);
  EXPECT_EQ(o.items_file, fs::path("/data/eval.jsonl"));
  EXPECT_EQ(o.prompt_key, "question");
  EXPECT_EQ(o.answer_key, "label");
  EXPECT_EQ(o.max_items, 10u);
  EXPECT_FALSE(o.greedy);
  EXPECT_EQ(o.samples, 4);
  EXPECT_EQ(o.temperature, 0.8);
  EXPECT_EQ(o.max_new_tokens, 99);
  EXPECT_EQ(o.answer_regex, "x(\\d)");
  EXPECT_EQ(o.checker, "math");
  EXPECT_EQ(o.stop, std::vector<std::string>{"<end>"});
  EXPECT_EQ(o.seed, 42u);
}

// ------------------------------------------------------------ a real model

std::shared_ptr<ModelBackend> tiny_model() {
  const fs::path dir = scratch("model");
  test::init_model(dir, "--arch llama --hidden 32 --layers 1 --heads 2 --kv-heads 1 --seed 1");
  const auto& registry = test::builtin_registry();
  const ResolvedConfig c = validate(
      RawConfig::parse("[model]\nplugin = \"torch-llama\"\n", "test.toml", {"model.path=" + dir.string()}), registry);
  return registry.create_as<ModelBackend>(PluginKind::ModelBackend, "torch-llama", c.view("model"));
}

TEST(EvaluatorRealModel, RunsATinyModelAndWritesThePerItemFile) {
  const fs::path dir = scratch("real");
  EvalOptions o = options_with(2);
  o.items_file = write(dir / "eval.jsonl",
                       "{\"instruction\": \"What is 2+2?\", \"answer\": \"4\"}\n"
                       "{\"instruction\": \"What is 3*3?\", \"answer\": 9}\n"
                       "{\"instruction\": \"Name a colour.\", \"answer\": \"red\"}\n");
  o.max_new_tokens = 6;
  o.requests_per_call = 4;
  auto model = tiny_model();
  const EvalResult r = evaluate(*model, o, dir / "out" / "iter_0.jsonl");
  EXPECT_EQ(r.items, 3u);
  EXPECT_EQ(r.generate_calls, 2u) << "6 requests, 4 per call";
  ASSERT_TRUE(r.greedy_accuracy && r.pass_at_1);
  EXPECT_GE(*r.greedy_accuracy, 0.0);
  EXPECT_LE(*r.greedy_accuracy, 1.0);
  EXPECT_GT(r.generated_tokens, 0);
  EXPECT_LE(r.generated_tokens, 3 * (1 + 2) * 6);
  const std::vector<json> lines = read_lines(dir / "out" / "iter_0.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1]["reference"], "9");
  for (const json& line : lines) {
    EXPECT_TRUE(line["greedy"]["response"].is_string());
    EXPECT_LE(line["greedy"]["tokens"].get<int>(), 6);
    EXPECT_EQ(line["samples"].size(), 2u);
  }
  // The same seed gives the same file.
  const std::string first = read_file(dir / "out" / "iter_0.jsonl");
  evaluate(*model, o, dir / "out" / "again.jsonl");
  EXPECT_EQ(read_file(dir / "out" / "again.jsonl"), first);
}

}  // namespace
}  // namespace genius::core
