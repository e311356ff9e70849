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
#include <variant>

#include <nlohmann/json.hpp>

#include "tokenizer_bpe.hpp"
#include "tokenizer_regex.hpp"
#include "tokenizer_unicode.hpp"

namespace genius::llama {

namespace {

using nlohmann::json;

// GPT-2's pre-tokenization pattern, applied by ByteLevel when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct AddedToken {
  int32_t id = -1;
  std::string content;
  std::string decoded;  // what id_to_token and decode give: HF normalizes the content of normalized tokens
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// The added tokens of one kind (normalized or not), found leftmost-longest as
// HF's Aho-Corasick automaton does: a byte trie walked from each position.
class AddedTokenMatcher {
 public:
  void add(std::string_view pattern, std::size_t token_index) {
    if (pattern.empty()) return;
    int32_t node = 0;
    for (const char c : pattern) {
      const auto byte = static_cast<unsigned char>(c);
      auto& children = nodes_[static_cast<std::size_t>(node)].children;
      const auto it = std::find_if(children.begin(), children.end(), [&](const auto& e) { return e.first == byte; });
      if (it != children.end()) {
        node = it->second;
      } else {
        const auto child = static_cast<int32_t>(nodes_.size());
        children.emplace_back(byte, child);  // may reallocate nodes_' element, not nodes_ itself
        nodes_.emplace_back();
        node = child;
      }
    }
    nodes_[static_cast<std::size_t>(node)].token = static_cast<int32_t>(token_index);
    first_bytes_[static_cast<unsigned char>(pattern[0])] = true;
  }
  bool empty() const { return nodes_.size() == 1; }

  /// The longest pattern starting at text[pos]: {length, token index}, or {0, -1}.
  std::pair<std::size_t, int32_t> longest_at(std::string_view text, std::size_t pos) const {
    std::pair<std::size_t, int32_t> best{0, -1};
    if (!first_bytes_[static_cast<unsigned char>(text[pos])]) return best;
    int32_t node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
      const auto byte = static_cast<unsigned char>(text[i]);
      const auto& children = nodes_[static_cast<std::size_t>(node)].children;
      const auto it = std::find_if(children.begin(), children.end(), [&](const auto& e) { return e.first == byte; });
      if (it == children.end()) break;
      node = it->second;
      if (nodes_[static_cast<std::size_t>(node)].token >= 0) {
        best = {i + 1 - pos, nodes_[static_cast<std::size_t>(node)].token};
      }
    }
    return best;
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token = -1;
  };
  std::vector<Node> nodes_{1};
  std::array<bool, 256> first_bytes_{};
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct SplitStep {
  detail::SplitPattern pattern;
  SplitBehavior behavior;
  bool invert;
};
struct ByteLevelStep {
  bool add_prefix_space;
  std::optional<detail::SplitPattern> gpt2_pattern;  // set when use_regex
};
using PreTokenizerStep = std::variant<SplitStep, ByteLevelStep>;

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
  std::vector<AddedToken> added;  // in tokenizer.json's order
  std::unordered_map<std::string, std::size_t> added_by_content;
  std::unordered_map<int32_t, std::size_t> added_by_id;
  std::unordered_set<int32_t> special_ids;
  AddedTokenMatcher raw_matcher;         // added tokens with normalized = false
  AddedTokenMatcher normalized_matcher;  // the others, matched after normalization
  std::vector<detail::NormalizationForm> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::vector<std::vector<TemplateItem>> templates;  // post-processor, applied in order
  bool template_adds_bos = false;
  bool template_adds_eos = false;
  DecoderKind decoder = DecoderKind::None;

  std::optional<std::string> bos_token, eos_token;
  std::optional<int32_t> bos_id, eos_id;
  bool add_bos_token = false;  // tokenizer_config.json
  bool add_eos_token = false;
  int32_t vocab_size = 0;

  // The components as read, written back by to_tokenizer_json().
  json normalizer_json, pre_tokenizer_json, post_processor_json, decoder_json;

  void load(const json& root, const std::string& origin);
  void load_added_tokens(const json& list, const std::string& origin);
  void load_normalizer(const json& node, const std::string& origin);
  void load_pre_tokenizer(const json& node, const std::string& origin);
  void load_post_processor(const json& node, const std::string& origin);
  void load_decoder(const json& node, const std::string& origin);
  void load_config(const json& config, const std::string& origin);
  void prepare_added_tokens();

  std::optional<int32_t> token_to_id(std::string_view token) const {
    const auto it = added_by_content.find(std::string(token));
    if (it != added_by_content.end()) return added[it->second].id;
    return model->token_to_id(token);
  }
  const std::string* id_to_token(int32_t id) const {
    const auto it = added_by_id.find(id);
    if (it != added_by_id.end()) return &added[it->second].decoded;
    return model->id_to_token(id);
  }

  template <typename Emit>
  void split_added(std::string_view text, const AddedTokenMatcher& matcher, Emit&& emit) const;
  void pre_tokenize_and_model(std::string_view text, std::vector<int32_t>& ids) const;
  void encode(std::string_view text, std::vector<int32_t>& ids) const;
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
  const std::string model_type = type != nullptr ? type->get<std::string>() : model_json->contains("merges") ? "BPE" : "";
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

  if (const json* list = member(root, "added_tokens")) load_added_tokens(*list, origin);
  vocab_size = model->size();
  for (const AddedToken& token : added) vocab_size = std::max(vocab_size, token.id + 1);

  const auto component = [&root](const char* key) { return root.contains(key) ? root.at(key) : json(); };
  load_normalizer(component("normalizer"), origin);
  load_pre_tokenizer(component("pre_tokenizer"), origin);
  load_post_processor(component("post_processor"), origin);
  load_decoder(component("decoder"), origin);
}

void Tokenizer::Impl::load_added_tokens(const json& list, const std::string& origin) {
  if (!list.is_array()) fail(origin, "added_tokens is not an array");
  int32_t max_added = -1;
  // HF ignores the ids written here and gives each token the id it has in the
  // vocabulary, or the next free one; a file where the two differ is refused
  // rather than read differently from HF.
  const auto model_count = static_cast<int32_t>(model->size());
  for (const json& entry : list) {
    AddedToken token;
    token.id = entry.at("id").get<int32_t>();
    token.content = entry.at("content").get<std::string>();
    token.single_word = flag(entry, "single_word", false);
    token.lstrip = flag(entry, "lstrip", false);
    token.rstrip = flag(entry, "rstrip", false);
    token.special = flag(entry, "special", false);
    token.normalized = flag(entry, "normalized", !token.special);
    if (token.content.empty()) continue;
    if (const auto known = added_by_content.find(token.content); known != added_by_content.end()) {
      added[known->second] = token;  // a repeated entry updates the first
      continue;
    }
    int32_t expected = -1;
    if (const auto in_model = model->token_to_id(token.content)) {
      expected = *in_model;
    } else if (max_added < 0) {
      expected = model_count;
    } else {
      expected = max_added >= model_count || model_count == 0 ? max_added + 1 : model_count;
    }
    if (token.id != expected) {
      fail(origin, "added token '" + token.content + "' has id " + std::to_string(token.id) +
                       " but Hugging Face tokenizers would give it id " + std::to_string(expected));
    }
    max_added = std::max(max_added, token.id);
    added_by_content.emplace(token.content, added.size());
    added_by_id.emplace(token.id, added.size());
    added.push_back(token);
  }
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
  static const std::map<std::string, detail::NormalizationForm> forms = {
      {"NFC", detail::NormalizationForm::NFC},
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
    ByteLevelStep step{flag(node, "add_prefix_space", true), std::nullopt};
    if (flag(node, "use_regex", true)) step.gpt2_pattern = detail::SplitPattern::regex(kGpt2Pattern);
    pre_tokenizer.emplace_back(std::move(step));
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
  static const std::map<std::string, SplitBehavior> behaviors = {
      {"Removed", SplitBehavior::Removed},
      {"Isolated", SplitBehavior::Isolated},
      {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
      {"MergedWithNext", SplitBehavior::MergedWithNext},
      {"Contiguous", SplitBehavior::Contiguous}};
  const std::string behavior = node.at("behavior").get<std::string>();
  const auto it = behaviors.find(behavior);
  if (it == behaviors.end()) fail(origin, "unknown Split behavior '" + behavior + "'");
  pre_tokenizer.emplace_back(SplitStep{std::move(*compiled), it->second, flag(node, "invert", false)});
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

// The matchers of the added tokens, what decoding gives for each, and which
// ids skip_special_tokens drops. HF matches a normalized token by its
// normalized content and gives that content back when decoding; it skips the
// ids whose token is the content of a special token, so a normalized special
// token that normalization changes is not skipped.
void Tokenizer::Impl::prepare_added_tokens() {
  std::unordered_set<std::string> special_contents;
  for (std::size_t i = 0; i < added.size(); ++i) {
    AddedToken& token = added[i];
    if (token.special) special_contents.insert(token.content);
    token.decoded = token.content;
    if (!token.normalized) {
      raw_matcher.add(token.content, i);
      continue;
    }
    for (const detail::NormalizationForm form : normalizers) token.decoded = detail::normalize(token.decoded, form);
    normalized_matcher.add(token.decoded, i);
  }
  for (const AddedToken& token : added) {
    if (special_contents.count(token.decoded) > 0) special_ids.insert(token.id);
  }
  for (const std::string& content : special_contents) {
    if (const auto id = model->token_to_id(content); id && added_by_id.count(*id) == 0) special_ids.insert(*id);
  }
}

// ---------------------------------------------------------------------------
// Encoding

// Cuts the added tokens found by `matcher` out of `text`, calling
// emit(piece, -1) for the text between them and emit(content, id) for each,
// as HF's AddedVocabulary::find_matches: leftmost-longest matches; a
// single_word token must not touch a word character on either side (else the
// match is dropped); lstrip / rstrip take the white space on that side along.
template <typename Emit>
void Tokenizer::Impl::split_added(std::string_view text, const AddedTokenMatcher& matcher, Emit&& emit) const {
  if (matcher.empty()) {
    if (!text.empty()) emit(text, -1);
    return;
  }
  // The character that ends at `end` and its length; U+FFFD for a byte that is not UTF-8.
  const auto char_before = [&](std::size_t end) -> std::pair<char32_t, std::size_t> {
    for (std::size_t length = 1; length <= 4 && length <= end; ++length) {
      char32_t cp = 0;
      if (detail::utf8_char_at(text, end - length, &cp) == length) return {cp, length};
    }
    return {0xFFFD, 1};
  };
  const auto char_at = [&](std::size_t pos) -> char32_t {
    char32_t cp = 0;
    return detail::utf8_char_at(text, pos, &cp) > 0 ? cp : 0xFFFD;
  };

  std::size_t done = 0;  // text[0, done) has been emitted
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto [length, index] = matcher.longest_at(text, pos);
    if (length == 0) {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    std::size_t stop = pos + length;
    pos = stop;
    const AddedToken& token = added[static_cast<std::size_t>(index)];
    if (token.single_word) {
      const bool word_before = start > 0 && detail::is_word_char(char_before(start).first);
      const bool word_after = stop < text.size() && detail::is_word_char(char_at(stop));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {  // not into text already emitted
      for (auto c = char_before(start); start > done && detail::is_white_space(c.first); c = char_before(start)) {
        start -= c.second;
      }
    }
    if (token.rstrip) {
      char32_t cp = 0;
      std::size_t n = 0;
      while (stop < text.size() && (n = detail::utf8_char_at(text, stop, &cp)) > 0 && detail::is_white_space(cp)) {
        stop += n;
      }
      pos = stop;
    }
    if (start > done) emit(text.substr(done, start - done), -1);
    emit(std::string_view(token.content), token.id);
    done = stop;
  }
  if (done < text.size()) emit(text.substr(done), -1);
}

namespace {

// A Split step on one piece: the matches and the text between them, merged
// as `behavior` says; empty pieces are dropped (as HF does).
void split_piece(const SplitStep& step, std::string_view piece, std::vector<std::string>& out,
                 std::vector<std::pair<std::size_t, std::size_t>>& scratch) {
  scratch.clear();
  step.pattern.find_all(piece, scratch);
  struct Part {
    std::size_t begin, end;
    bool is_match;
  };
  std::vector<Part> parts;
  parts.reserve(2 * scratch.size() + 1);
  std::size_t previous = 0;
  for (const auto& [begin, end] : scratch) {
    if (begin > previous) parts.push_back({previous, begin, step.invert});
    parts.push_back({begin, end, !step.invert});
    previous = end;
  }
  if (previous < piece.size()) parts.push_back({previous, piece.size(), step.invert});

  std::vector<std::pair<std::size_t, std::size_t>> merged;
  switch (step.behavior) {
    case SplitBehavior::Removed:
      for (const Part& p : parts) {
        if (!p.is_match) merged.emplace_back(p.begin, p.end);
      }
      break;
    case SplitBehavior::Isolated:
      for (const Part& p : parts) merged.emplace_back(p.begin, p.end);
      break;
    case SplitBehavior::MergedWithPrevious: {  // a match joins the piece before it
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.is_match && !previous_match && !merged.empty()) {
          merged.back().second = p.end;
        } else {
          merged.emplace_back(p.begin, p.end);
        }
        previous_match = p.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {  // a match joins the piece after it
      bool next_match = false;
      for (auto p = parts.rbegin(); p != parts.rend(); ++p) {
        if (p->is_match && !next_match && !merged.empty()) {
          merged.back().first = p->begin;
        } else {
          merged.emplace_back(p->begin, p->end);
        }
        next_match = p->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    }
    case SplitBehavior::Contiguous: {  // runs of matches, runs of non-matches
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.is_match == previous_match && !merged.empty()) {
          merged.back().second = p.end;
        } else {
          merged.emplace_back(p.begin, p.end);
        }
        previous_match = p.is_match;
      }
      break;
    }
  }
  for (const auto& [begin, end] : merged) {
    if (end > begin) out.emplace_back(piece.substr(begin, end - begin));
  }
}

void byte_level_piece(const ByteLevelStep& step, std::string_view piece, std::vector<std::string>& out,
                      std::vector<std::pair<std::size_t, std::size_t>>& scratch) {
  std::string prefixed;
  if (step.add_prefix_space && (piece.empty() || piece.front() != ' ')) {
    prefixed = " " + std::string(piece);
    piece = prefixed;
  }
  const auto& table = detail::byte_to_unicode();
  const auto map_bytes = [&](std::string_view bytes) {
    std::string mapped;
    mapped.reserve(bytes.size() * 2);
    for (const char c : bytes) mapped += table[static_cast<unsigned char>(c)];
    out.push_back(std::move(mapped));
  };
  if (!step.gpt2_pattern) {
    if (!piece.empty()) map_bytes(piece);
    return;
  }
  scratch.clear();
  step.gpt2_pattern->find_all(piece, scratch);
  std::size_t previous = 0;
  for (const auto& [begin, end] : scratch) {
    if (begin > previous) map_bytes(piece.substr(previous, begin - previous));
    map_bytes(piece.substr(begin, end - begin));
    previous = end;
  }
  if (previous < piece.size()) map_bytes(piece.substr(previous));
}

}  // namespace

void Tokenizer::Impl::pre_tokenize_and_model(std::string_view text, std::vector<int32_t>& ids) const {
  if (pre_tokenizer.empty()) {
    model->tokenize(text, ids);
    return;
  }
  std::vector<std::string> pieces{std::string(text)};
  std::vector<std::string> next;
  std::vector<std::pair<std::size_t, std::size_t>> scratch;
  for (const PreTokenizerStep& step : pre_tokenizer) {
    next.clear();
    for (const std::string& piece : pieces) {
      if (const auto* split = std::get_if<SplitStep>(&step)) {
        split_piece(*split, piece, next, scratch);
      } else {
        byte_level_piece(std::get<ByteLevelStep>(step), piece, next, scratch);
      }
    }
    pieces.swap(next);
  }
  for (const std::string& piece : pieces) model->tokenize(piece, ids);
}

void Tokenizer::Impl::encode(std::string_view text, std::vector<int32_t>& ids) const {
  split_added(text, raw_matcher, [&](std::string_view piece, int32_t id) {
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
    if (normalizers.empty()) {
      split_added(piece, normalized_matcher, [&](std::string_view inner, int32_t inner_id) {
        if (inner_id >= 0) {
          ids.push_back(inner_id);
        } else {
          pre_tokenize_and_model(inner, ids);
        }
      });
      return;
    }
    std::string normalized(piece);
    for (const detail::NormalizationForm form : normalizers) normalized = detail::normalize(normalized, form);
    split_added(normalized, normalized_matcher, [&](std::string_view inner, int32_t inner_id) {
      if (inner_id >= 0) {
        ids.push_back(inner_id);
      } else {
        pre_tokenize_and_model(inner, ids);
      }
    });
  });
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
    if (token == nullptr || (skip_special_tokens && special_ids.count(id) > 0)) continue;
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
  const std::string config = tokenizer_config_json.empty() ? std::string()
                                                            : read_file(tokenizer_config_json, "tokenizer_config.json");
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
  impl->prepare_added_tokens();
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
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                           {"use_regex", false}};
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

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const { return impl_->token_to_id(token); }

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  const std::string* token = impl_->id_to_token(id);
  if (token == nullptr) return std::nullopt;
  return *token;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos_id; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos_id; }
bool Tokenizer::is_special(int32_t id) const { return impl_->special_ids.count(id) > 0; }

// ---------------------------------------------------------------------------
// Writing

std::string Tokenizer::to_tokenizer_json() const {
  const Impl& impl = *impl_;
  const detail::BpeConfig& options = impl.model->options();
  const auto str = [](const std::string& s) { return json(s).dump(); };
  std::string out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [";
  for (std::size_t i = 0; i < impl.added.size(); ++i) {
    const AddedToken& t = impl.added[i];
    const json entry = {{"id", t.id},         {"content", t.content},       {"single_word", t.single_word},
                        {"lstrip", t.lstrip}, {"rstrip", t.rstrip},         {"normalized", t.normalized},
                        {"special", t.special}};
    out += (i == 0 ? "\n    " : ",\n    ") + entry.dump();
  }
  out += impl.added.empty() ? "],\n" : "\n  ],\n";
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

void Utf8StreamDecoder::reset() { pending_.clear(); }

}  // namespace genius::llama
