// Internal to genius_llama_tokenizer: the state of a Tokenizer (its pipeline,
// tokenizer_config.json's special tokens, the components as read), shared by
// tokenizer.cpp (encoding, decoding, writing) and tokenizer_load.cpp (loading).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer.hpp"
#include "tokenizer_added_tokens.hpp"
#include "tokenizer_bpe.hpp"
#include "tokenizer_pre_tokenizer.hpp"
#include "tokenizer_unicode.hpp"

namespace genius::llama {

namespace detail {

// One element of TemplateProcessing's "single" template.
struct TemplateItem {
  bool is_sequence = false;
  std::vector<int32_t> ids;  // of the special token, when !is_sequence
};

enum class DecoderKind { None, ByteLevel };

}  // namespace detail

struct Tokenizer::Impl {
  std::unique_ptr<detail::BpeModel> model;
  detail::AddedVocabulary added;
  std::vector<detail::NormalizationForm> normalizers;  // applied in order
  detail::PreTokenizer pre_tokenizer;
  std::vector<std::vector<detail::TemplateItem>> templates;  // the post-processor, applied in order
  bool template_adds_bos = false;
  bool template_adds_eos = false;
  detail::DecoderKind decoder = detail::DecoderKind::None;

  std::optional<std::string> bos_token, eos_token;  // tokenizer_config.json
  std::optional<int32_t> bos_id, eos_id;
  bool add_bos_token = false;
  bool add_eos_token = false;

  // The components as read, written back by to_tokenizer_json().
  nlohmann::json normalizer_json, pre_tokenizer_json, post_processor_json, decoder_json;

  void load(const nlohmann::json& root, const std::string& origin);
  void load_normalizer(const nlohmann::json& node, const std::string& origin);
  void load_pre_tokenizer(const nlohmann::json& node, const std::string& origin);
  void load_post_processor(const nlohmann::json& node, const std::string& origin);
  void load_decoder(const nlohmann::json& node, const std::string& origin);
  void load_config(const nlohmann::json& config, const std::string& origin);

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

}  // namespace genius::llama
