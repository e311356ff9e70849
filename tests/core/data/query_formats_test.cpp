// [data] train's layouts: each read from a small file, the conversation
// rules, JSON arrays, and the errors that name the file and line.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/query_formats.hpp"
#include "io/jsonl.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

using ::testing::HasSubstr;

std::filesystem::path file_with(const std::string& name, const std::string& text) {
  const auto dir = test::scratch_dir("genius_query_formats", "files");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}

std::vector<Query> load(const std::string& name, const std::string& text, QueryFormat f = {}) {
  return load_queries(file_with(name, text), f, 0);
}

std::string error_of(const std::string& name, const std::string& text, QueryFormat f = {}) {
  try {
    load(name, text, f);
  } catch (const JsonlError& e) {
    return e.what();
  }
  return "no error";
}

TEST(QueryFormats, PlainFieldsInOrder) {
  const auto q = load("plain.jsonl",
                      "{\"id\": \"a\", \"prompt\": \"p1\"}\n{\"instruction\": \"p2\"}\n{\"query\": \"p3\"}\n"
                      "{\"question\": \"p4\", \"answer\": \"x\"}\n");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[0].id, "a");
  EXPECT_EQ(q[0].prompt, "p1");
  EXPECT_EQ(q[1].id, "line-2");
  EXPECT_EQ(q[3].prompt, "p4");
  QueryFormat custom;
  custom.prompt_key = "text";
  EXPECT_EQ(load("custom.jsonl", "{\"text\": \"t\", \"prompt\": \"p\"}\n", custom)[0].prompt, "t");
}

TEST(QueryFormats, AlpacaJoinsInstructionAndInput) {
  const auto q = load("alpaca.json",
                      R"([{"instruction": "Sum the numbers.", "input": "3, 4", "output": "7"},
                          {"instruction": "Say hi.", "input": "", "output": "hi"}])");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].prompt, "Sum the numbers.\n\n3, 4");
  EXPECT_EQ(q[1].prompt, "Say hi.");
  EXPECT_EQ(q[1].id, "line-2");
}

TEST(QueryFormats, MessagesTakeTheLastUserTurnWithItsContext) {
  const auto q =
      load("messages.jsonl",
           R"({"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]}
{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Add 1 and 2."}]}
)");
  EXPECT_EQ(q[0].prompt, "What is 2+2?");
  EXPECT_EQ(q[1].prompt, "System: Be brief.\nUser: Hi\nAssistant: Hello\n\nAdd 1 and 2.");
}

TEST(QueryFormats, ShareGptAsOpenHermesShipsIt) {
  const auto q = load(
      "hermes.json",
      R"([{"conversations": [{"from": "system", "value": "You are helpful."}, {"from": "human", "value": "Name a prime."}, {"from": "gpt", "value": "7"}], "source": "glaive"}])");
  EXPECT_EQ(q[0].prompt, "System: You are helpful.\n\nName a prime.");
}

TEST(QueryFormats, MagpieUsesItsUuid) {
  const auto q = load(
      "magpie.jsonl",
      R"({"uuid": "0f3a", "instruction": "Prove that 2 is prime.", "response": "...", "conversations": [{"from": "human", "value": "Prove that 2 is prime."}], "difficulty": "easy"}
)");
  EXPECT_EQ(q[0].id, "0f3a");
  EXPECT_EQ(q[0].prompt, "Prove that 2 is prime.");
}

TEST(QueryFormats, ErrorsNameTheFileAndLine) {
  EXPECT_THAT(error_of("none.jsonl", "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n"),
              HasSubstr("none.jsonl:2: no query in this record"));
  EXPECT_THAT(
      error_of("mixed.jsonl", "{\"prompt\": \"a\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}\n"),
      HasSubstr("mixed.jsonl:2: a messages record, but"));
  EXPECT_THAT(
      error_of("mixed.jsonl", "{\"prompt\": \"a\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}\n"),
      HasSubstr("mixed.jsonl:1 is a prompt record"));
  EXPECT_THAT(error_of("nouser.jsonl", "{\"messages\": [{\"role\": \"assistant\", \"content\": \"b\"}]}\n"),
              HasSubstr("nouser.jsonl:1: the conversation has no user turn"));
  EXPECT_THAT(error_of("badturn.jsonl", "{\"conversations\": [{\"from\": \"human\"}]}\n"),
              HasSubstr("badturn.jsonl:1: turn 1 needs string 'from' and 'value' fields"));
  EXPECT_THAT(error_of("empty.jsonl", "{\"prompt\": \"  \"}\n"), HasSubstr("empty.jsonl:1: the query is empty"));
  EXPECT_THAT(error_of("arr.json", "[{\"prompt\": \"a\"}, 3]"), HasSubstr("arr.json: item 2: expected a JSON object"));
  EXPECT_THAT(error_of("broken.json", "[{\"prompt\": \"a\"}"), HasSubstr("broken.json: starts with '['"));
  EXPECT_THAT(error_of("dup.jsonl", "{\"id\": 1, \"prompt\": \"a\"}\n{\"id\": 1, \"prompt\": \"b\"}\n"),
              HasSubstr("dup.jsonl:2: duplicate query id '1'"));
  EXPECT_THAT(error_of("nothing.jsonl", ""), HasSubstr("no queries"));
  QueryFormat forced;
  forced.format = "sharegpt";
  EXPECT_THAT(error_of("forced.jsonl", "{\"prompt\": \"a\"}\n", forced),
              HasSubstr("forced.jsonl:1: not a sharegpt record"));
  forced.format = "csv";
  EXPECT_THAT(error_of("f.jsonl", "{\"prompt\": \"a\"}\n", forced), HasSubstr("train_format 'csv' is not one of"));
}

}  // namespace
}  // namespace genius::core
