// Internal to genius_llama_tokenizer: the BPE model of tokenizer.json, which
// turns one pre-token into ids.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace genius::llama::detail {

struct BpeConfig {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  ///< highest priority first
  bool ignore_merges = false;            ///< a pre-token that is itself in the vocabulary is not merged (Llama 3)
  bool byte_fallback = false;            ///< a character not in the vocabulary becomes its <0xXX> byte tokens
  std::optional<std::string> unk_token;  ///< otherwise it becomes this token (or is dropped when none)
  bool fuse_unk = false;                 ///< consecutive unknown characters make one unk_token
};

class BpeModel {
 public:
  /// Throws std::invalid_argument naming the merge (1-based) and the token
  /// when a merge names a token, or makes one, that is not in the vocabulary,
  /// or when unk_token is not in it.
  explicit BpeModel(BpeConfig config);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  /// Appends the ids of one pre-token, a string in the model's alphabet
  /// (GPT-2 characters for byte-level models).
  void tokenize(std::string_view word, std::vector<int32_t>& ids) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  /// nullptr when no token has this id.
  const std::string* id_to_token(int32_t id) const;
  /// Largest id + 1.
  int32_t size() const { return static_cast<int32_t>(id_to_token_.size()); }
  /// Number of tokens (HF's vocabulary size; below size() when ids have gaps).
  int32_t count() const { return static_cast<int32_t>(vocab_.size()); }

  /// The merges as token ids, highest priority first.
  std::vector<std::pair<int32_t, int32_t>> merges() const;
  const BpeConfig& options() const { return options_; }  ///< vocab and merges are emptied

 private:
  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  std::optional<int32_t> char_id(std::string_view ch) const;
  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;

  BpeConfig options_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<int32_t> bmp_char_ids_;  ///< id of each one-character token below U+10000, or -1
  std::optional<int32_t> unk_id_;

  // Pre-token -> ids. Text repeats its words, so most pre-tokens are found here.
  static constexpr std::size_t kCacheCapacity = 1 << 16;
  static constexpr std::size_t kMaxCachedWordBytes = 256;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace genius::llama::detail
