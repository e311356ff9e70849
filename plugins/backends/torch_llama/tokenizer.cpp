// The tokenizer pipeline (added tokens, normalizer, pre-tokenizer, BPE,
// post-processor, decoder), its loading from tokenizer.json and its writing.
#include "tokenizer.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "tokenizer_added_tokens.hpp"
#include "tokenizer_bpe.hpp"
#include "tokenizer_pre_tokenizer.hpp"
#include "tokenizer_regex.hpp"
#include "tokenizer_unicode.hpp"

namespace genius::llama {

namespace {

using nlohmann::json;

// One element of TemplateProcessing's "single" template.
struct TemplateItem {
  bool is_sequence = false;
  std::vector<int32_t> ids;  // of the special token, when !is_sequence
};

enum class DecoderKind { None, ByteLevel };

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
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    fail(origin, std::string("invalid JSON: ") + e.what());
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

struct Tokenizer::Impl {
  std::unique_ptr<detail::BpeModel> model;
  detail::AddedVocabulary added;
  std::vector<detail::NormalizationForm> normalizers;  // applied in order
  detail::PreTokenizer pre_tokenizer;
  std::vector<std::vector<TemplateItem>> templates;  // the post-processor, applied in order
  bool template_adds_bos = false;
  bool template_adds_eos = false;
  DecoderKind decoder = DecoderKind::None;

  std::optional<std::string> bos_token, eos_token;  // tokenizer_config.json
  std::optional<int32_t> bos_id, eos_id;
  bool add_bos_token = false;
  bool add_eos_token = false;

  // The components as read, written back by to_tokenizer_json().
  json normalizer_json, pre_tokenizer_json, post_processor_json, decoder_json;

  void load(const json& root, const std::string& origin);
  void load_normalizer(const json& node, const std::string& origin);
  void load_pre_tokenizer(const json& node, const std::string& origin);
  void load_post_processor(const json& node, const std::string& origin);
  void load_decoder(const json& node, const std::string& origin);
  void load_config(const json& config, const std::string& origin);

  std::optional<int32_t> token_to_id(std::string_view token) const {
    if (const auto id = added.token_to_id(token)) return id;
    return model->token_to_id(token);
  }
  const std::string* id_to_token(int32_t id) const {
    if (const std::string* token = added.id_to_token(id)) return token;
    return model->id_to_token(id);
  }

  void encode(std::string_view text, std::vector<int32_t>& ids) const;
  void model_pieces(std::string_view text, std::vector<int32_t>& ids) const;
  void post_process(std::vector<int32_t>& ids) const;
  std::string decode_bytes(const std::vector<int32_t>& ids, bool skip_special_tokens) const;
};

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
// Encoding: added tokens out of the raw text, normalizer, normalized added
// tokens out, pre-tokenizer, BPE (HF's TokenizerImpl::encode_single_sequence).

void Tokenizer::Impl::encode(std::string_view text, std::vector<int32_t>& ids) const {
  std::vector<detail::AddedVocabulary::Piece> raw_pieces;
  added.split(text, /*normalized=*/false, raw_pieces);
  std::vector<detail::AddedVocabulary::Piece> pieces;
  std::string normalized;
  for (const auto& raw : raw_pieces) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    std::string_view piece = raw.text;
    if (!normalizers.empty()) {
      normalized.assign(piece);
      for (const detail::NormalizationForm form : normalizers) normalized = detail::normalize(normalized, form);
      piece = normalized;
    }
    pieces.clear();
    added.split(piece, /*normalized=*/true, pieces);
    for (const auto& inner : pieces) {
      if (inner.id >= 0) {
        ids.push_back(inner.id);
      } else {
        model_pieces(inner.text, ids);
      }
    }
  }
}

void Tokenizer::Impl::model_pieces(std::string_view text, std::vector<int32_t>& ids) const {
  if (pre_tokenizer.empty()) {
    model->tokenize(text, ids);
    return;
  }
  thread_local std::vector<std::string> pieces;
  pre_tokenizer.run(text, pieces);
  for (const std::string& piece : pieces) model->tokenize(piece, ids);
}

void Tokenizer::Impl::post_process(std::vector<int32_t>& ids) const {
  for (const auto& items : templates) {
    std::vector<int32_t> out;
    out.reserve(ids.size() + items.size());
    for (const TemplateItem& item : items) {
      const auto& source = item.is_sequence ? ids : item.ids;
      out.insert(out.end(), source.begin(), source.end());
    }
    ids.swap(out);
  }
  if (add_bos_token && bos_id && !template_adds_bos) ids.insert(ids.begin(), *bos_id);
  if (add_eos_token && eos_id && !template_adds_eos) ids.push_back(*eos_id);
}

// ---------------------------------------------------------------------------
// Decoding

std::string Tokenizer::Impl::decode_bytes(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string out;
  bool first = true;
  for (const int32_t id : ids) {
    const std::string* token = id_to_token(id);
    if (token == nullptr || (skip_special_tokens && added.is_special(id))) continue;
    if (decoder == DecoderKind::None) {  // HF joins the tokens with spaces
      if (!first) out += ' ';
      out += *token;
      first = false;
      continue;
    }
    // ByteLevel: each character of the token is a byte; a token with any
    // other character (an added token such as "<a b>") is taken as it is.
    const std::size_t mark = out.size();
    bool all_bytes = true;
    for (std::size_t i = 0; i < token->size() && all_bytes;) {
      char32_t cp = 0;
      const std::size_t n = detail::utf8_char_at(*token, i, &cp);
      const int byte = n > 0 ? detail::unicode_to_byte(cp) : -1;
      if (byte < 0) all_bytes = false;
      out.push_back(static_cast<char>(byte));
      i += n;
    }
    if (!all_bytes) {
      out.resize(mark);
      out += *token;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Tokenizer

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

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

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode(text, ids);
  if (add_special_tokens) impl_->post_process(ids);
  return ids;
}

std::string Tokenizer::decode_bytes(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  return impl_->decode_bytes(ids, skip_special_tokens);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const std::string bytes = impl_->decode_bytes(ids, skip_special_tokens);
  std::string text;
  text.reserve(bytes.size());
  detail::append_utf8_lossy(text, bytes, /*final=*/true);
  return text;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const std::string* token = impl_->id_to_token(id);
  if (token == nullptr) return std::nullopt;
  return *token;
}

int32_t Tokenizer::vocab_size() const {
  return std::max(impl_->model->size(), impl_->added.size());
}
std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->bos_id;
}
std::optional<int32_t> Tokenizer::eos_id() const {
  return impl_->eos_id;
}
bool Tokenizer::is_special(int32_t id) const {
  return impl_->added.is_special(id);
}

// ---------------------------------------------------------------------------
// Writing

std::string Tokenizer::to_tokenizer_json() const {
  const Impl& impl = *impl_;
  const detail::BpeConfig& options = impl.model->options();
  const auto str = [](const std::string& s) { return json(s).dump(); };
  std::string out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [";
  const auto& added = impl.added.tokens();
  for (std::size_t i = 0; i < added.size(); ++i) {
    const detail::AddedToken& t = added[i];
    nlohmann::ordered_json entry;  // the key order of HF's files
    entry["id"] = t.id;
    entry["content"] = t.content;
    entry["single_word"] = t.single_word;
    entry["lstrip"] = t.lstrip;
    entry["rstrip"] = t.rstrip;
    entry["normalized"] = t.normalized;
    entry["special"] = t.special;
    out += (i == 0 ? "\n    " : ",\n    ") + entry.dump();
  }
  out += added.empty() ? "],\n" : "\n  ],\n";
  out += "  \"normalizer\": " + impl.normalizer_json.dump() + ",\n";
  out += "  \"pre_tokenizer\": " + impl.pre_tokenizer_json.dump() + ",\n";
  out += "  \"post_processor\": " + impl.post_processor_json.dump() + ",\n";
  out += "  \"decoder\": " + impl.decoder_json.dump() + ",\n";
  out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n";
  out += "    \"unk_token\": " + (options.unk_token ? str(*options.unk_token) : std::string("null")) + ",\n";
  out += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n";
  out += std::string("    \"fuse_unk\": ") + (options.fuse_unk ? "true" : "false") + ",\n";
  out += std::string("    \"byte_fallback\": ") + (options.byte_fallback ? "true" : "false") + ",\n";
  out += std::string("    \"ignore_merges\": ") + (options.ignore_merges ? "true" : "false") + ",\n";
  out += "    \"vocab\": {";
  bool first = true;
  for (int32_t id = 0; id < impl.model->size(); ++id) {
    if (const std::string* token = impl.model->id_to_token(id)) {
      out += (first ? "\n      " : ",\n      ") + str(*token) + ": " + std::to_string(id);
      first = false;
    }
  }
  out += first ? "},\n" : "\n    },\n";
  out += "    \"merges\": [";
  const auto merges = impl.model->merges();
  for (std::size_t i = 0; i < merges.size(); ++i) {
    out += (i == 0 ? "\n      [" : ",\n      [") + str(*impl.model->id_to_token(merges[i].first)) + ", " +
           str(*impl.model->id_to_token(merges[i].second)) + "]";
  }
  out += merges.empty() ? "]\n" : "\n    ]\n";
  out += "  }\n}\n";
  return out;
}

std::string Tokenizer::to_tokenizer_config_json() const {
  const Impl& impl = *impl_;
  json config = {{"add_bos_token", impl.add_bos_token},
                 {"add_eos_token", impl.add_eos_token},
                 {"bos_token", impl.bos_token ? json(*impl.bos_token) : json()},
                 {"eos_token", impl.eos_token ? json(*impl.eos_token) : json()},
                 {"clean_up_tokenization_spaces", false},
                 {"model_max_length", 1000000000},
                 {"tokenizer_class", "PreTrainedTokenizerFast"}};
  return config.dump(2) + "\n";
}

void Tokenizer::save(const std::filesystem::path& dir) const {
  std::filesystem::create_directories(dir);
  const auto write = [](const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw std::runtime_error(path.string() + ": cannot write");
  };
  write(dir / "tokenizer.json", to_tokenizer_json());
  write(dir / "tokenizer_config.json", to_tokenizer_config_json());
}

// ---------------------------------------------------------------------------
// Streaming

Utf8StreamDecoder::Utf8StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string Utf8StreamDecoder::push(int32_t id) {
  pending_ += tokenizer_->decode_bytes({id}, skip_special_tokens_);
  std::string text;
  const std::size_t consumed = detail::append_utf8_lossy(text, pending_, /*final=*/false);
  pending_.erase(0, consumed);
  return text;
}

std::string Utf8StreamDecoder::finish() {
  std::string text;
  detail::append_utf8_lossy(text, pending_, /*final=*/true);
  pending_.clear();
  return text;
}

void Utf8StreamDecoder::reset() {
  pending_.clear();
}

}  // namespace genius::llama
