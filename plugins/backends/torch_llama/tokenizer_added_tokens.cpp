#include "tokenizer_added_tokens.hpp"

#include <algorithm>
#include <stdexcept>

#include "tokenizer_regex.hpp"

namespace genius::llama::detail {

void AddedVocabulary::Matcher::add(std::string_view pattern, int32_t token_index) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[static_cast<std::size_t>(node)].children.emplace_back(byte, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  nodes_[static_cast<std::size_t>(node)].token = token_index;
  first_bytes_[static_cast<unsigned char>(pattern[0])] = true;
}

int32_t AddedVocabulary::Matcher::child(int32_t node, unsigned char byte) const {
  for (const auto& [b, next] : nodes_[static_cast<std::size_t>(node)].children) {
    if (b == byte) return next;
  }
  return -1;
}

std::pair<std::size_t, int32_t> AddedVocabulary::Matcher::longest_at(std::string_view text, std::size_t pos) const {
  std::pair<std::size_t, int32_t> best{0, -1};
  if (!first_bytes_[static_cast<unsigned char>(text[pos])]) return best;
  int32_t node = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    const int32_t token = nodes_[static_cast<std::size_t>(node)].token;
    if (token >= 0) best = {i + 1 - pos, token};
  }
  return best;
}

void AddedVocabulary::add(const AddedToken& token, const BpeModel& model) {
  if (token.content.empty()) return;  // HF ignores these
  if (const auto known = by_content_.find(token.content); known != by_content_.end()) {
    tokens_[known->second] = token;
    return;
  }
  int32_t expected = 0;
  if (const auto in_model = model.token_to_id(token.content)) {
    expected = *in_model;
  } else {
    // HF: the model's vocabulary size (a count, not the largest id + 1), or
    // after the largest added id once that one is past it.
    const int32_t model_count = model.count();
    int32_t largest = -1;
    for (const AddedToken& t : tokens_) largest = std::max(largest, t.id);
    expected = largest < 0 ? model_count : largest >= model_count || model_count == 0 ? largest + 1 : model_count;
  }
  if (token.id != expected) {
    throw std::invalid_argument("added token '" + token.content + "' has id " + std::to_string(token.id) +
                                " but Hugging Face tokenizers would give it id " + std::to_string(expected));
  }
  by_content_.emplace(token.content, tokens_.size());
  by_id_.emplace(token.id, tokens_.size());
  tokens_.push_back(token);
}

// HF matches a normalized token by its normalized content and decodes it to
// that content; it drops the ids whose token is the content of a special
// token, so a normalized special token that normalization changes is kept.
void AddedVocabulary::finish(const std::vector<NormalizationForm>& normalizers, const BpeModel& model) {
  std::unordered_set<std::string> special_contents;
  decoded_.clear();
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    if (token.special) special_contents.insert(token.content);
    std::string decoded = token.content;
    if (token.normalized) {
      for (const NormalizationForm form : normalizers) decoded = normalize(decoded, form);
      normalized_matcher_.add(decoded, static_cast<int32_t>(i));
    } else {
      raw_matcher_.add(token.content, static_cast<int32_t>(i));
    }
    decoded_.push_back(std::move(decoded));
  }
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    if (special_contents.count(decoded_[i]) > 0) special_ids_.insert(tokens_[i].id);
  }
  for (const std::string& content : special_contents) {
    const auto id = model.token_to_id(content);
    if (id && by_id_.count(*id) == 0) special_ids_.insert(*id);
  }
}

std::optional<int32_t> AddedVocabulary::token_to_id(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const std::string* AddedVocabulary::id_to_token(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &decoded_[it->second];
}

int32_t AddedVocabulary::size() const {
  int32_t size = 0;
  for (const AddedToken& token : tokens_) size = std::max(size, token.id + 1);
  return size;
}

// As HF's AddedVocabulary::find_matches: leftmost-longest matches; a
// single_word token that touches a word character is not a match (and the
// search goes on after it); lstrip / rstrip take the white space on that side
// along, but not text already cut.
void AddedVocabulary::split(std::string_view text, bool normalized, std::vector<Piece>& out) const {
  const Matcher& matcher = normalized ? normalized_matcher_ : raw_matcher_;
  if (matcher.empty()) {
    if (!text.empty()) out.push_back({text, -1});
    return;
  }
  // The character ending at `end` and its length (U+FFFD for a stray byte).
  const auto char_before = [&](std::size_t end) -> std::pair<char32_t, std::size_t> {
    for (std::size_t length = 1; length <= 4 && length <= end; ++length) {
      char32_t cp = 0;
      if (utf8_char_at(text, end - length, &cp) == length) return {cp, length};
    }
    return {0xFFFD, 1};
  };
  const auto char_at = [&](std::size_t pos) -> std::pair<char32_t, std::size_t> {
    char32_t cp = 0;
    const std::size_t n = pos < text.size() ? utf8_char_at(text, pos, &cp) : 0;
    return n > 0 ? std::make_pair(cp, n) : std::make_pair(char32_t{0xFFFD}, std::size_t{1});
  };

  std::size_t done = 0;  // text[0, done) has been cut
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
    const AddedToken& token = tokens_[static_cast<std::size_t>(index)];
    if (token.single_word) {
      const bool word_before = start > 0 && is_regex_word_char(char_before(start).first);
      const bool word_after = stop < text.size() && is_regex_word_char(char_at(stop).first);
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      for (auto c = char_before(start); start > done && is_white_space(c.first); c = char_before(start)) {
        start -= c.second;
      }
    }
    if (token.rstrip) {
      for (auto c = char_at(stop); stop < text.size() && is_white_space(c.first); c = char_at(stop)) stop += c.second;
      pos = stop;
    }
    if (start > done) out.push_back({text.substr(done, start - done), -1});
    out.push_back({text.substr(start, stop - start), token.id});
    done = stop;
  }
  if (done < text.size()) out.push_back({text.substr(done), -1});
}

}  // namespace genius::llama::detail
