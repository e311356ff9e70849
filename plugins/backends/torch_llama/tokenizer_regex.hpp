// Internal to genius_llama_tokenizer: the split patterns of tokenizer.json.
//
// HF `tokenizers` compiles them with Oniguruma (Ruby syntax). We run them on
// PCRE2 (UTF + UCP, JIT) after rewriting the escapes whose meaning differs:
//   \s \S    Unicode White_Space
//   \w \W    Alphabetic, marks, decimal digits, connector punctuation, and
//            outside a class also ² ³ ¹ ¼ ½ ¾ (PCRE2: letters, numbers, _)
//   \d \D    decimal digits (Nd)
//   \h \H    hexadecimal digits (PCRE2: horizontal space)
//   [:alpha:] [:alnum:] [:word:] [:digit:] [:space:] [:upper:] [:lower:]
//   [:punct:] their Unicode properties, as Oniguruma has them
// and with ^ / $ matching at line breaks, as in Ruby. \p{L}, \p{N} and the
// other general categories mean the same in both; case-insensitive groups
// (?i:...) fold with Unicode simple case folding in both ('ſ matches 's).
// Checked against HF tokenizers, Unicode category by category, in
// tests/data/tokenizer/features (generate_features.mjs).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace genius::llama::detail {

/// `pattern` (Oniguruma syntax) rewritten for PCRE2. Throws
/// std::invalid_argument for a construct it cannot express (\W inside a class).
std::string oniguruma_to_pcre2(std::string_view pattern);

/// Rust regex's \w (Alphabetic, marks, decimal digits, connector
/// punctuation, the joiners), which HF uses for single_word added tokens.
bool is_regex_word_char(char32_t cp);

class SplitPattern {
 public:
  /// Compiles an Oniguruma regex; throws std::invalid_argument with PCRE2's
  /// message and offset when it does not compile.
  static SplitPattern regex(std::string_view oniguruma_pattern);
  /// Matches `text` literally.
  static SplitPattern literal(std::string_view text);

  /// Byte ranges [begin, end) of the successive non-overlapping, non-empty
  /// matches in `text`, appended to `out`. Bytes of `text` that are not UTF-8
  /// are never part of a match.
  void find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

  struct Compiled;

 private:
  explicit SplitPattern(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace genius::llama::detail
