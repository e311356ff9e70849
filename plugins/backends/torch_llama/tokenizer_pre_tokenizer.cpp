#include "tokenizer_pre_tokenizer.hpp"

#include <algorithm>

#include "tokenizer_unicode.hpp"

namespace genius::llama::detail {

namespace {

// GPT-2's pre-tokenization pattern, which ByteLevel applies when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

void PreTokenizer::add_split(SplitPattern pattern, SplitBehavior behavior, bool invert) {
  steps_.emplace_back(SplitStep{std::move(pattern), behavior, invert});
}

void PreTokenizer::add_byte_level(bool add_prefix_space, bool use_regex) {
  ByteLevelStep step{add_prefix_space, std::nullopt};
  if (use_regex) step.gpt2_pattern = SplitPattern::regex(kGpt2Pattern);
  steps_.emplace_back(std::move(step));
}

void PreTokenizer::run(std::string_view text, std::vector<std::string>& pieces) const {
  pieces.clear();
  if (text.empty()) return;
  pieces.emplace_back(text);
  std::vector<std::string> next;
  Matches scratch;
  for (const auto& step : steps_) {
    next.clear();
    for (const std::string& piece : pieces) {
      if (const auto* split_step = std::get_if<SplitStep>(&step)) {
        split(*split_step, piece, next, scratch);
      } else {
        byte_level(std::get<ByteLevelStep>(step), piece, next, scratch);
      }
    }
    pieces.swap(next);
  }
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(), [](const std::string& p) { return p.empty(); }),
               pieces.end());
}

// The matches and the text between them, merged as the behavior says (the
// folds of HF's NormalizedString::split); empty pieces are dropped.
void PreTokenizer::split(const SplitStep& step, std::string_view piece, std::vector<std::string>& out,
                         Matches& scratch) {
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

  Matches merged;  // reuses the pair type: [begin, end) of each piece
  switch (step.behavior) {
    case SplitBehavior::Removed:
      for (const Part& p : parts) {
        if (!p.is_match) merged.emplace_back(p.begin, p.end);
      }
      break;
    case SplitBehavior::Isolated:
      for (const Part& p : parts) merged.emplace_back(p.begin, p.end);
      break;
    case SplitBehavior::MergedWithPrevious: {
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
    case SplitBehavior::MergedWithNext: {  // the same, right to left
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
    case SplitBehavior::Contiguous: {
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

void PreTokenizer::byte_level(const ByteLevelStep& step, std::string_view piece, std::vector<std::string>& out,
                              Matches& scratch) {
  std::string prefixed;
  if (step.add_prefix_space && (piece.empty() || piece.front() != ' ')) {
    prefixed = " " + std::string(piece);
    piece = prefixed;
  }
  const auto& table = byte_to_unicode();
  const auto add_bytes = [&](std::string_view bytes) {
    std::string mapped;
    mapped.reserve(bytes.size() * 2);
    for (const char c : bytes) mapped += table[static_cast<unsigned char>(c)];
    out.push_back(std::move(mapped));
  };
  if (!step.gpt2_pattern) {
    add_bytes(piece);
    return;
  }
  scratch.clear();
  step.gpt2_pattern->find_all(piece, scratch);
  std::size_t previous = 0;
  for (const auto& [begin, end] : scratch) {
    if (begin > previous) add_bytes(piece.substr(previous, begin - previous));
    add_bytes(piece.substr(begin, end - begin));
    previous = end;
  }
  if (previous < piece.size()) add_bytes(piece.substr(previous));
}

}  // namespace genius::llama::detail
