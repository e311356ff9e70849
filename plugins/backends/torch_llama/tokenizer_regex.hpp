// Internal to genius_llama_tokenizer: the split patterns of tokenizer.json.
//
// HF `tokenizers` compiles them with Oniguruma (Ruby syntax). We run them on
// PCRE2 (UTF + UCP, JIT) after rewriting the escapes whose meaning differs:
//   \s \S  Unicode White_Space (PCRE2's \s misses nothing today, but say it)
//   \w \W  letters, marks, decimal digits, connector punctuation (PCRE2: no marks)
//   \d \D  decimal digits (Nd)
//   \h \H  hexadecimal digits (PCRE2: horizontal space)
// and with ^ / $ matching at line breaks, as in Ruby. Case-insensitive groups
// (?i:...) fold with Unicode simple case folding in both ('ſ matches 's).
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
