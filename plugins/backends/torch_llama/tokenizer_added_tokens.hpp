// Internal to genius_llama_tokenizer: the added tokens of tokenizer.json
// (special or not) and how they are cut out of the text before the
// normalizer, pre-tokenizer and model see it, as HF's AddedVocabulary does.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tokenizer_bpe.hpp"
#include "tokenizer_unicode.hpp"

namespace genius::llama::detail {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;  ///< only where no word character touches it
  bool lstrip = false;       ///< takes the white space on its left along
  bool rstrip = false;       ///< and on its right
  bool normalized = false;   ///< matched in the normalized text (else in the raw text)
  bool special = false;      ///< dropped by decode(skip_special_tokens)
};

class AddedVocabulary {
 public:
  /// Adds `token` (a repeated content updates the first). Throws
  /// std::invalid_argument when its id is not the one HF gives it, which
  /// ignores the ids written in tokenizer.json: the id of the same content in
  /// the model's vocabulary, else the next free one.
  void add(const AddedToken& token, const BpeModel& model);
  /// Builds the matchers once every token is added. Normalized tokens are
  /// matched by their content in `normalizers`' form, and decode to it.
  void finish(const std::vector<NormalizationForm>& normalizers, const BpeModel& model);

  struct Piece {
    std::string_view text;
    int32_t id;  ///< the added token's id, or -1 for the text between them
  };
  /// Cuts the added tokens whose `normalized` flag is `normalized` out of
  /// `text`, appending the pieces in order (empty pieces left out).
  void split(std::string_view text, bool normalized, std::vector<Piece>& out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  std::optional<int32_t> token_to_id(std::string_view content) const;
  /// The text of an added token as decoding gives it; nullptr for other ids.
  const std::string* id_to_token(int32_t id) const;
  /// Whether decode(skip_special_tokens) drops this id (added or model id).
  bool is_special(int32_t id) const { return special_ids_.count(id) > 0; }
  /// Largest id + 1 of the added tokens (0 when none).
  int32_t size() const;

 private:
  // The tokens of one kind, found leftmost-longest as HF's Aho-Corasick
  // automaton finds them: a byte trie walked from each position.
  class Matcher {
   public:
    void add(std::string_view pattern, int32_t token_index);
    bool empty() const { return nodes_.size() == 1; }
    /// The longest pattern starting at text[pos]: {length, token index}, or {0, -1}.
    std::pair<std::size_t, int32_t> longest_at(std::string_view text, std::size_t pos) const;

   private:
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;
      int32_t token = -1;
    };
    int32_t child(int32_t node, unsigned char byte) const;
    std::vector<Node> nodes_{1};
    std::array<bool, 256> first_bytes_{};
  };

  std::vector<AddedToken> tokens_;    // in tokenizer.json's order
  std::vector<std::string> decoded_;  // per token: its content, normalized for normalized tokens
  std::unordered_map<std::string, std::size_t> by_content_;
  std::unordered_map<int32_t, std::size_t> by_id_;
  std::unordered_set<int32_t> special_ids_;
  Matcher raw_matcher_;
  Matcher normalized_matcher_;
};

}  // namespace genius::llama::detail
