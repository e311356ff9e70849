// JSONL reading (line numbers, torn tails), crash-safe appends, and the
// record / pair / query formats.
#include "io/jsonl.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "io/records_io.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path temp_file(const std::string& name, const std::string& content) {
  const fs::path dir = fs::temp_directory_path() / ("genius_jsonl_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << content;
  return dir / name;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Jsonl, ReadsLinesWithNumbersAndSkipsBlanks) {
  const auto file = temp_file("a.jsonl", "{\"a\":1}\n\n{\"a\":2}\n");
  const JsonlContents c = read_jsonl(file);
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[1].number, 3);
  EXPECT_EQ(c.lines[1].value["a"], 2);
  EXPECT_FALSE(c.torn_tail);
}

TEST(Jsonl, TornLastLineIsDroppedAndRepaired) {
  const auto file = temp_file("torn.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":");
  const JsonlContents c = read_jsonl(file);
  EXPECT_TRUE(c.torn_tail);
  EXPECT_EQ(c.lines.size(), 2u);
  repair_jsonl(file);
  JsonlAppender(file).append(nlohmann::json{{"a", 3}});
  const JsonlContents fixed = read_jsonl(file);
  ASSERT_EQ(fixed.lines.size(), 3u);
  EXPECT_EQ(fixed.lines[2].value["a"], 3);
  // A complete last line without a newline is kept, not dropped.
  EXPECT_EQ(read_jsonl(temp_file("nonl.jsonl", "{\"a\":1}\n{\"a\":2}")).lines.size(), 2u);
}

TEST(Jsonl, BadLineInTheMiddleIsAnErrorWithItsLineNumber) {
  const auto file = temp_file("bad.jsonl", "{\"a\":1}\nnot json\n{\"a\":2}\n");
  EXPECT_THAT(error_of([&] { read_jsonl(file); }), HasSubstr("bad.jsonl:2: invalid JSON"));
  EXPECT_THAT(error_of([&] { read_jsonl("/nonexistent/x.jsonl"); }), HasSubstr("/nonexistent/x.jsonl"));
}

TEST(Queries, LoadWithIdsAndClearErrors) {
  const auto file =
      temp_file("q.jsonl", "{\"id\":\"q1\",\"instruction\":\"1+1\",\"answer\":\"2\"}\n{\"instruction\":\"2+2\"}\n");
  const auto queries = load_queries(file, "instruction", 0);
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].id, "q1");
  EXPECT_EQ(queries[1].id, "line-2");
  EXPECT_EQ(load_queries(file, "instruction", 1).size(), 1u);
  // random_subset: k distinct indices in increasing order, seeded; all of them for k = 0 or k >= n.
  EXPECT_EQ(random_subset(5, 0, 1), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(random_subset(5, 9, 1), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(random_subset(0, 3, 1).empty());
  std::vector<int> hits(20, 0);
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    const auto s = random_subset(20, 5, seed);
    ASSERT_EQ(s.size(), 5u);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    EXPECT_EQ(std::adjacent_find(s.begin(), s.end()), s.end()) << "distinct";
    for (std::size_t i : s) ++hits[i];
  }
  EXPECT_EQ(random_subset(20, 5, 7), random_subset(20, 5, 7));
  EXPECT_NE(random_subset(20, 5, 7), random_subset(20, 5, 8));
  for (int h : hits) EXPECT_NEAR(h, 2000 * 5 / 20, 4 * std::sqrt(2000 * 0.25 * 0.75)) << "uniform";
  EXPECT_EQ(random_subset(20, 19, 3).size(), 19u);
  EXPECT_THAT(error_of([&] { load_queries(temp_file("e.jsonl", ""), "instruction", 0); }), HasSubstr("no queries"));
  EXPECT_THAT(error_of([&] { load_queries(temp_file("m.jsonl", "{\"question\":\"x\"}\n"), "instruction", 0); }),
              HasSubstr("m.jsonl:1: missing field 'instruction'"));
  EXPECT_THAT(error_of([&] {
                load_queries(
                    temp_file("d.jsonl", "{\"id\":1,\"instruction\":\"a\"}\n{\"id\":1,\"instruction\":\"b\"}\n"),
                    "instruction", 0);
              }),
              HasSubstr("d.jsonl:2: duplicate query id"));
  EXPECT_THAT(error_of([&] { load_queries(temp_file("n.jsonl", "[1]\n"), "instruction", 0); }), HasSubstr("n.jsonl:1"));
}

TEST(Queries, SeedsAreStableAndDistinct) {
  EXPECT_EQ(query_seed(1, 1, "q1"), query_seed(1, 1, "q1"));
  EXPECT_NE(query_seed(1, 1, "q1"), query_seed(1, 1, "q2"));
  EXPECT_NE(query_seed(1, 1, "q1"), query_seed(2, 1, "q1"));
  EXPECT_NE(query_seed(1, 1, "q1"), query_seed(1, 2, "q1"));
}

TEST(Records, RoundTrip) {
  ExplorationRecord r;
  r.query = {"q7", "What is 3+4?", 99};
  StepRecord s;
  s.step = 1;
  s.beams = {"", ""};
  s.beam_values = {0, 0};
  Candidate c;
  c.parent_beam = 1;
  c.step = "3+4=7";
  c.step_logprob = -1.5;
  c.step_tokens = 5;
  c.rollout = "\\boxed{7}";
  c.rollout_logprob = -0.5;
  c.rollout_tokens = 9;
  c.trajectory = "3+4=7\n\\boxed{7}";
  c.score = -0.055;
  c.advantage = -0.055;
  s.candidates = {c, c};
  s.selected = {0, 1};
  r.steps = {s};
  r.response = c.trajectory;
  r.generated_tokens = 28;
  const ExplorationRecord back = record_from_json(to_json(r), "test");
  EXPECT_EQ(to_json(back), to_json(r));
  EXPECT_THAT(error_of([&] {
                record_from_json(nlohmann::json{{"prompt", "x"}}, "f.jsonl:3");
              }),
              HasSubstr("f.jsonl:3: missing field 'query_id'"));
}

TEST(Pairs, WrittenInTheConversationalFormatAndReadFromTheReferenceFormat) {
  PreferencePair p{"q1", 2, "Q?", "good", "bad", 0.5, -0.25, 0.1};
  const nlohmann::json j = to_json(p);
  EXPECT_EQ(j["prompt"][0]["role"], "user");
  EXPECT_EQ(j["chosen"][0]["role"], "assistant");
  EXPECT_EQ(j["chosen"][0]["content"], "good");
  EXPECT_EQ(j["rejected_weights"], -0.25);
  const PreferencePair back = pair_from_json(j, "t");
  EXPECT_EQ(back.chosen, "good");
  EXPECT_EQ(back.rejected, "bad");
  EXPECT_EQ(back.step, 2);
  EXPECT_DOUBLE_EQ(back.chosen_average_weight, 0.1);
  // The Genius reference writes message lists for chosen/rejected and may give a plain prompt.
  const auto ref = nlohmann::json::parse(
      R"({"prompt": "Q?", "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "B"}],
          "chosen_weights": 1.0, "rejected_weights": 0.0, "chosen_average_weights": 0.5})");
  const PreferencePair r = pair_from_json(ref, "t");
  EXPECT_EQ(r.prompt, "Q?");
  EXPECT_EQ(r.chosen, "A");
  EXPECT_THAT(error_of([&] {
                pair_from_json(nlohmann::json{{"prompt", "x"}}, "p.jsonl:4");
              }),
              HasSubstr("p.jsonl:4: missing field 'chosen'"));
}

}  // namespace
}  // namespace genius::core
