// Internal to genius_llama_tokenizer: the pre_tokenizer of tokenizer.json,
// which cuts normalized text into the pieces that BPE merges within: Split
// steps (a pattern and what to do with its matches) and ByteLevel steps
// (optionally the GPT-2 regex, then every byte written as its GPT-2
// character), run in order as a HF Sequence runs them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tokenizer_regex.hpp"

namespace genius::llama::detail {

/// What a Split step makes of the matches of its pattern and the text between.
enum class SplitBehavior {
  Removed,             ///< matches dropped
  Isolated,            ///< matches and the text between them are pieces
  MergedWithPrevious,  ///< a match ends the piece before it
  MergedWithNext,      ///< a match starts the piece after it
  Contiguous,          ///< consecutive matches make one piece
};

class PreTokenizer {
 public:
  /// Split: `invert` makes the text between the matches the matches.
  void add_split(SplitPattern pattern, SplitBehavior behavior, bool invert);
  /// ByteLevel: a space in front of each piece that lacks one when
  /// `add_prefix_space`, then the GPT-2 regex when `use_regex`, then bytes.
  void add_byte_level(bool add_prefix_space, bool use_regex);
  bool empty() const { return steps_.empty(); }

  /// The pre-tokens of `text` (never empty ones) in `pieces`, replacing its content.
  void run(std::string_view text, std::vector<std::string>& pieces) const;

 private:
  struct SplitStep {
    SplitPattern pattern;
    SplitBehavior behavior;
    bool invert;
  };
  struct ByteLevelStep {
    bool add_prefix_space;
    std::optional<SplitPattern> gpt2_pattern;  // set when use_regex
  };
  using Matches = std::vector<std::pair<std::size_t, std::size_t>>;
  static void split(const SplitStep& step, std::string_view piece, std::vector<std::string>& out, Matches& scratch);
  static void byte_level(const ByteLevelStep& step, std::string_view piece, std::vector<std::string>& out,
                         Matches& scratch);

  std::vector<std::variant<SplitStep, ByteLevelStep>> steps_;
};

}  // namespace genius::llama::detail
