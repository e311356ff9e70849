// Loading a Tokenizer: tokenizer.json (model, added tokens, normalizer,
// pre-tokenizer, post-processor, decoder) and tokenizer_config.json, from
// files or text, and the byte-level tokenizer built without files.
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include <genius/helpers/json_text.hpp>

#include "tokenizer.hpp"
#include "tokenizer_impl.hpp"
#include "tokenizer_regex.hpp"
#include "tokenizer_unicode.hpp"

namespace genius::llama {

namespace {

using detail::DecoderKind;
using detail::TemplateItem;
using nlohmann::json;

// Token ids above this are refused: no vocabulary comes near, and an id sizes
// the tables built from it.
constexpr std::int64_t kMaxTokenId = std::int64_t{1} << 24;

[[noreturn]] void fail(const std::string& origin, const std::string& problem) {
  throw std::runtime_error(origin + ": " + problem);
}

std::string read_file(const std::filesystem::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), std::string("cannot open ") + what + " (missing or unreadable)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path.string(), std::string("cannot read ") + what);
  return text.str();
}

json parse_json(std::string_view text, const std::string& origin) {
  if (const std::string deep = genius::json_depth_problem(text); !deep.empty()) fail(origin, "invalid JSON: " + deep);
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    fail(origin, std::string("invalid JSON: ") + genius::json_error_text(e));
  }
}

const json* member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool flag(const json& object, const char* key, bool fallback) {
  const json* value = member(object, key);
  return value != nullptr ? value->get<bool>() : fallback;
}

std::string type_of(const json& component, const std::string& origin, const char* what) {
  const json* type = member(component, "type");
  if (type == nullptr || !type->is_string()) fail(origin, std::string(what) + " has no \"type\"");
  return type->get<std::string>();
}

// tokenizer_config.json writes tokens either as strings or as AddedToken objects.
std::optional<std::string> config_token(const json& config, const char* key) {
  const json* value = member(config, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  if (value->is_object() && value->contains("content")) return value->at("content").get<std::string>();
  throw std::invalid_argument(std::string(key) + " is neither a string nor an object with \"content\"");
}

}  // namespace

// ---------------------------------------------------------------------------
// Loading

void Tokenizer::Impl::load(const json& root, const std::string& origin) {
  if (!root.is_object()) fail(origin, "not a tokenizer.json: the top level is not an object");
  const json* model_json = member(root, "model");
  if (model_json == nullptr || !model_json->is_object()) fail(origin, "no \"model\"");
  const json* type = member(*model_json, "type");
  const std::string model_type = type != nullptr                  ? type->get<std::string>()
                                 : model_json->contains("merges") ? "BPE"
                                                                  : "";
  if (model_type != "BPE") {
    fail(origin, "unsupported model type '" + model_type + "' (only BPE is supported)");
  }
  const json* vocab = member(*model_json, "vocab");
  const json* merges = member(*model_json, "merges");
  if (vocab == nullptr || !vocab->is_object()) fail(origin, "model.vocab is missing or not an object");
  if (merges == nullptr || !merges->is_array()) fail(origin, "model.merges is missing or not an array");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* affix = member(*model_json, key);
    if (affix != nullptr && !affix->get<std::string>().empty()) {
      fail(origin, std::string("unsupported model.") + key + " '" + affix->get<std::string>() + "'");
    }
  }
  if (const json* dropout = member(*model_json, "dropout"); dropout != nullptr && dropout->get<double>() > 0.0) {
    fail(origin, "unsupported model.dropout (BPE dropout is for training)");
  }

  detail::BpeConfig config;
  config.vocab.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer()) fail(origin, "model.vocab: the id of '" + token + "' is not an integer");
    if (id.get<std::int64_t>() >= kMaxTokenId)
      fail(origin, "model.vocab: the id of '" + genius::excerpt(token, 40) + "' is " + id.dump() + ", above " +
                       std::to_string(kMaxTokenId) + " (more than any vocabulary)");
    config.vocab.emplace(token, id.get<int32_t>());
  }
  config.merges.reserve(merges->size());
  std::size_t line = 0;
  for (const json& merge : *merges) {
    ++line;
    if (merge.is_string()) {  // "a b", the format of tokenizers < 0.20
      const std::string text = merge.get<std::string>();
      if (text.rfind("#version", 0) == 0) continue;
      const std::size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        fail(origin, "merge " + std::to_string(line) + " \"" + text + "\" is not two tokens separated by one space");
      }
      config.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      config.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      fail(origin, "merge " + std::to_string(line) + " is neither \"a b\" nor [\"a\", \"b\"]: " + merge.dump());
    }
  }
  config.ignore_merges = flag(*model_json, "ignore_merges", false);
  config.byte_fallback = flag(*model_json, "byte_fallback", false);
  config.fuse_unk = flag(*model_json, "fuse_unk", false);
  if (const json* unk = member(*model_json, "unk_token")) config.unk_token = unk->get<std::string>();
  try {
    model = std::make_unique<detail::BpeModel>(std::move(config));
  } catch (const std::invalid_argument& e) {
    fail(origin, std::string("model: ") + e.what());
  }

  if (const json* list = member(root, "added_tokens")) {
    if (!list->is_array()) fail(origin, "added_tokens is not an array");
    for (const json& entry : *list) {
      detail::AddedToken token;
      if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() ||
          entry["id"].get<std::int64_t>() < 0 || entry["id"].get<std::int64_t>() >= kMaxTokenId ||
          !entry.contains("content") || !entry["content"].is_string())
        fail(origin, "added_tokens: each entry needs an integer \"id\" in [0, " + std::to_string(kMaxTokenId) +
                         ") and a string \"content\", got " + genius::excerpt(entry.dump(), 80));
      token.id = entry.at("id").get<int32_t>();
      token.content = entry.at("content").get<std::string>();
      token.single_word = flag(entry, "single_word", false);
      token.lstrip = flag(entry, "lstrip", false);
      token.rstrip = flag(entry, "rstrip", false);
      token.special = flag(entry, "special", false);
      token.normalized = flag(entry, "normalized", !token.special);
      try {
        added.add(token, *model);
      } catch (const std::invalid_argument& e) {
        fail(origin, e.what());
      }
    }
  }

  const auto component = [&root](const char* key) { return root.contains(key) ? root.at(key) : json(); };
  load_normalizer(component("normalizer"), origin);
  load_pre_tokenizer(component("pre_tokenizer"), origin);
  load_post_processor(component("post_processor"), origin);
  load_decoder(component("decoder"), origin);
  added.finish(normalizers, *model);
}

void Tokenizer::Impl::load_normalizer(const json& node, const std::string& origin) {
  normalizer_json = node;
  if (node.is_null()) return;
  const std::string type = type_of(node, origin, "normalizer");
  if (type == "Sequence") {
    for (const json& inner : node.at("normalizers")) {
      load_normalizer(inner, origin);
    }
    normalizer_json = node;
    return;
  }
  static const std::map<std::string, detail::NormalizationForm> forms = {{"NFC", detail::NormalizationForm::NFC},
                                                                         {"NFD", detail::NormalizationForm::NFD},
                                                                         {"NFKC", detail::NormalizationForm::NFKC},
                                                                         {"NFKD", detail::NormalizationForm::NFKD}};
  const auto it = forms.find(type);
  if (it == forms.end()) {
    fail(origin, "unsupported normalizer type '" + type + "' (supported: NFC, NFD, NFKC, NFKD, Sequence)");
  }
  normalizers.push_back(it->second);
}

void Tokenizer::Impl::load_pre_tokenizer(const json& node, const std::string& origin) {
  pre_tokenizer_json = node;
  if (node.is_null()) return;
  const std::string type = type_of(node, origin, "pre_tokenizer");
  if (type == "Sequence") {
    for (const json& inner : node.at("pretokenizers")) load_pre_tokenizer(inner, origin);
    pre_tokenizer_json = node;
    return;
  }
  if (type == "ByteLevel") {
    pre_tokenizer.add_byte_level(flag(node, "add_prefix_space", true), flag(node, "use_regex", true));
    return;
  }
  if (type != "Split") {
    fail(origin, "unsupported pre_tokenizer type '" + type + "' (supported: ByteLevel, Split, Sequence)");
  }
  const json& pattern = node.at("pattern");
  std::optional<detail::SplitPattern> compiled;
  try {
    if (const json* regex = member(pattern, "Regex")) {
      compiled = detail::SplitPattern::regex(regex->get<std::string>());
    } else if (const json* literal = member(pattern, "String")) {
      compiled = detail::SplitPattern::literal(literal->get<std::string>());
    } else {
      fail(origin, "Split pattern is neither {\"Regex\": ...} nor {\"String\": ...}");
    }
  } catch (const std::invalid_argument& e) {
    fail(origin, "Split pattern " + pattern.dump() + ": " + e.what());
  }
  using detail::SplitBehavior;
  static const std::map<std::string, SplitBehavior> behaviors = {
      {"Removed", SplitBehavior::Removed},
      {"Isolated", SplitBehavior::Isolated},
      {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
      {"MergedWithNext", SplitBehavior::MergedWithNext},
      {"Contiguous", SplitBehavior::Contiguous}};
  const std::string behavior = node.at("behavior").get<std::string>();
  const auto it = behaviors.find(behavior);
  if (it == behaviors.end()) fail(origin, "unknown Split behavior '" + behavior + "'");
  pre_tokenizer.add_split(std::move(*compiled), it->second, flag(node, "invert", false));
}

void Tokenizer::Impl::load_post_processor(const json& node, const std::string& origin) {
  post_processor_json = node;
  if (node.is_null()) return;
  const std::string type = type_of(node, origin, "post_processor");
  if (type == "Sequence") {
    for (const json& inner : node.at("processors")) load_post_processor(inner, origin);
    post_processor_json = node;
    return;
  }
  if (type == "ByteLevel") return;  // it only trims offsets
  if (type != "TemplateProcessing") {
    fail(origin, "unsupported post_processor type '" + type + "' (supported: TemplateProcessing, ByteLevel, Sequence)");
  }
  const json& specials = node.at("special_tokens");
  std::vector<TemplateItem> items;
  for (const json& piece : node.at("single")) {
    TemplateItem item;
    if (const json* sequence = member(piece, "Sequence")) {
      if (sequence->at("id").get<std::string>() != "A") fail(origin, "TemplateProcessing: single names sequence B");
      item.is_sequence = true;
    } else if (const json* special = member(piece, "SpecialToken")) {
      const std::string name = special->at("id").get<std::string>();
      if (!specials.contains(name)) fail(origin, "TemplateProcessing: special token '" + name + "' is not defined");
      item.ids = specials.at(name).at("ids").get<std::vector<int32_t>>();
    } else {
      fail(origin, "TemplateProcessing: unknown template piece " + piece.dump());
    }
    items.push_back(std::move(item));
  }
  templates.push_back(std::move(items));
}

void Tokenizer::Impl::load_decoder(const json& node, const std::string& origin) {
  decoder_json = node;
  if (node.is_null()) return;
  const std::string type = type_of(node, origin, "decoder");
  if (type == "ByteLevel") {
    decoder = DecoderKind::ByteLevel;
  } else if (type == "Sequence" && node.at("decoders").size() == 1) {
    load_decoder(node.at("decoders")[0], origin);
    decoder_json = node;
  } else {
    fail(origin, "unsupported decoder type '" + type + "' (supported: ByteLevel)");
  }
}

void Tokenizer::Impl::load_config(const json& config, const std::string& origin) {
  if (!config.is_object()) fail(origin, "not a tokenizer_config.json: the top level is not an object");
  try {
    bos_token = config_token(config, "bos_token");
    eos_token = config_token(config, "eos_token");
  } catch (const std::invalid_argument& e) {
    fail(origin, e.what());
  }
  add_bos_token = flag(config, "add_bos_token", false);
  add_eos_token = flag(config, "add_eos_token", false);
  if (bos_token) {
    bos_id = token_to_id(*bos_token);
    if (!bos_id) fail(origin, "bos_token '" + *bos_token + "' is not in the vocabulary");
  }
  if (eos_token) {
    eos_id = token_to_id(*eos_token);
    if (!eos_id) fail(origin, "eos_token '" + *eos_token + "' is not in the vocabulary");
  }
  for (const auto& items : templates) {
    if (bos_id && !items.empty() && !items.front().is_sequence && !items.front().ids.empty() &&
        items.front().ids.front() == *bos_id) {
      template_adds_bos = true;
    }
    if (eos_id && !items.empty() && !items.back().is_sequence && !items.back().ids.empty() &&
        items.back().ids.back() == *eos_id) {
      template_adds_eos = true;
    }
  }
}

// ---------------------------------------------------------------------------
// Loading functions

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                               const std::string& origin) {
  return from_json_texts(tokenizer_json, origin, tokenizer_config_json, "tokenizer_config.json");
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json,
                               const std::filesystem::path& tokenizer_config_json) {
  const std::string text = read_file(tokenizer_json, "tokenizer.json");
  const std::string config =
      tokenizer_config_json.empty() ? std::string() : read_file(tokenizer_config_json, "tokenizer_config.json");
  return from_json_texts(text, tokenizer_json.string(), config, tokenizer_config_json.string());
}

Tokenizer Tokenizer::from_directory(const std::filesystem::path& dir) {
  const std::filesystem::path config = dir / "tokenizer_config.json";
  return from_file(dir / "tokenizer.json", std::filesystem::exists(config) ? config : std::filesystem::path());
}

Tokenizer Tokenizer::from_json_texts(std::string_view tokenizer_json, const std::string& origin,
                                     std::string_view tokenizer_config_json, const std::string& config_origin) {
  auto impl = std::make_unique<Impl>();
  const json root = parse_json(tokenizer_json, origin);
  try {
    impl->load(root, origin);
  } catch (const json::exception& e) {  // a field of the wrong type or missing
    fail(origin, e.what());
  }
  if (!tokenizer_config_json.empty()) {
    const json config = parse_json(tokenizer_config_json, config_origin);
    try {
      impl->load_config(config, config_origin);
    } catch (const json::exception& e) {
      fail(config_origin, e.what());
    }
  }
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::byte_level(std::vector<std::string> special_tokens, const std::string& bos_token,
                                const std::string& eos_token) {
  const auto& bytes = detail::byte_to_unicode();
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[bytes[static_cast<std::size_t>(b)]] = b;
  json added = json::array();
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < special_tokens.size(); ++i) {
    const std::string& token = special_tokens[i];
    if (token.empty()) throw std::invalid_argument("byte_level: a special token is empty");
    if (!seen.insert(token).second) throw std::invalid_argument("byte_level: special token '" + token + "' repeated");
    if (vocab.contains(token)) {
      throw std::invalid_argument("byte_level: special token '" + token + "' is already a byte token");
    }
    added.push_back({{"id", 256 + static_cast<int32_t>(i)},
                     {"content", token},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  for (const std::string* role : {&bos_token, &eos_token}) {
    if (!role->empty() && seen.count(*role) == 0) {
      throw std::invalid_argument("byte_level: '" + *role + "' is not one of the special tokens");
    }
  }
  const json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  const json root = {{"version", "1.0"},
                     {"truncation", nullptr},
                     {"padding", nullptr},
                     {"added_tokens", added},
                     {"normalizer", nullptr},
                     {"pre_tokenizer", byte_level},
                     {"post_processor", byte_level},
                     {"decoder", byte_level},
                     {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
  json config = json::object();
  config["bos_token"] = bos_token.empty() ? json() : json(bos_token);
  config["eos_token"] = eos_token.empty() ? json() : json(eos_token);
  return from_json_texts(root.dump(), "byte_level tokenizer", config.dump(), "byte_level tokenizer config");
}

}  // namespace genius::llama
