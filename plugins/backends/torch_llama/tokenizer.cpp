// The tokenizer pipeline (added tokens, normalizer, pre-tokenizer, BPE,
// post-processor, decoder) and its writing; its loading from tokenizer.json is
// in tokenizer_load.cpp, its state (Tokenizer::Impl) in tokenizer_impl.hpp.
#include "tokenizer.hpp"

#include <algorithm>
#include <stdexcept>

#include <genius/helpers/atomic_file.hpp>
#include <nlohmann/json.hpp>

#include "tokenizer_added_tokens.hpp"
#include "tokenizer_bpe.hpp"
#include "tokenizer_impl.hpp"
#include "tokenizer_pre_tokenizer.hpp"
#include "tokenizer_unicode.hpp"

namespace genius::llama {

namespace {

using detail::DecoderKind;
using detail::TemplateItem;
using nlohmann::json;

}  // namespace

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
  genius::write_file_atomic(dir / "tokenizer.json", to_tokenizer_json());
  genius::write_file_atomic(dir / "tokenizer_config.json", to_tokenizer_config_json());
}

// ---------------------------------------------------------------------------
// Streaming

bool Tokenizer::streams_exactly() const {
  return impl_->decoder == detail::DecoderKind::ByteLevel;
}

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
