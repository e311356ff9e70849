// genius/answer.hpp — final-answer extraction, shared by the evaluator, the
// self-consistency sampler and the majority-vote value estimator.
#pragma once

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace genius {

/// The content of the LAST `\boxed{...}` in `text` (braces may nest), or
/// nullopt when there is none or it is not closed.
inline std::optional<std::string> extract_boxed(std::string_view text) {
  const std::string_view marker = "\\boxed{";
  const std::size_t start = text.rfind(marker);
  if (start == std::string_view::npos) return std::nullopt;
  int depth = 1;
  for (std::size_t i = start + marker.size(); i < text.size(); ++i) {
    if (text[i] == '{')
      ++depth;
    else if (text[i] == '}' && --depth == 0)
      return std::string(text.substr(start + marker.size(), i - start - marker.size()));
  }
  return std::nullopt;
}

/// Extracts answers with a regex (the first capture group of the last
/// match), or with extract_boxed when the pattern is empty.
class AnswerExtractor {
 public:
  /// Throws std::regex_error for an invalid pattern.
  explicit AnswerExtractor(const std::string& pattern = "") : pattern_(pattern) {
    if (!pattern.empty()) regex_ = std::regex(pattern, std::regex::ECMAScript);
  }

  std::optional<std::string> operator()(std::string_view text) const {
    if (pattern_.empty()) return extract_boxed(text);
    std::optional<std::string> last;
    const std::string s(text);
    for (auto it = std::sregex_iterator(s.begin(), s.end(), regex_); it != std::sregex_iterator(); ++it)
      last = (*it).size() > 1 ? (*it)[1].str() : (*it)[0].str();
    return last;
  }

 private:
  std::string pattern_;
  std::regex regex_;
};

/// Canonical form for comparing answers: surrounding whitespace and a trailing
/// period dropped, inner whitespace removed; numbers compared by value
/// ("15.0" == "15", "+3" == "3").
inline std::string normalize_answer(std::string_view answer) {
  std::string s;
  for (char c : answer)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  while (!s.empty() && s.back() == '.') s.pop_back();
  if (s.empty()) return s;
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end && *end == '\0' && s.find_first_of("0123456789") != std::string::npos) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.12g", value);
    return buf;
  }
  return s;
}

inline bool same_answer(std::string_view a, std::string_view b) {
  return normalize_answer(a) == normalize_answer(b);
}

}  // namespace genius
