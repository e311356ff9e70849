// genius/answer.hpp — final-answer extraction, shared by the evaluator, the
// self-consistency sampler and the majority-vote value estimator.
#pragma once

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <genius/error.hpp>

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

/// The extractor of a plugin's `answer_pattern` key: an invalid regex is the
/// plugin's PluginError naming the pattern.
inline AnswerExtractor plugin_answer_extractor(const std::string& plugin, const std::string& pattern) {
  try {
    return AnswerExtractor(pattern);
  } catch (const std::regex_error& e) {
    throw PluginError(plugin, "answer_pattern '" + pattern + "' is not a valid regex: " + e.what());
  }
}

/// The majority vote over `answers` ("" = no answer, not counted), each
/// member with a `key` (a score): the normalised answer held by the most
/// members (ties: the answer whose best key is higher, then the one met
/// first), and within it the member with the highest key (the first on ties).
/// nullopt when no member has an answer.
inline std::optional<std::size_t> majority_choice(const std::vector<std::string>& answers,
                                                  const std::vector<double>& keys) {
  struct Group {
    int count = 0;
    std::size_t best = 0;   ///< highest-keyed member
    std::size_t first = 0;  ///< first member, for ties
  };
  std::map<std::string, Group> groups;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].empty()) continue;
    auto [it, added] = groups.try_emplace(normalize_answer(answers[i]), Group{0, i, i});
    Group& g = it->second;
    ++g.count;
    if (!added && keys[i] > keys[g.best]) g.best = i;
  }
  const Group* top = nullptr;
  for (const auto& [answer, g] : groups) {
    if (!top || g.count > top->count ||
        (g.count == top->count &&
         (keys[g.best] > keys[top->best] || (keys[g.best] == keys[top->best] && g.first < top->first))))
      top = &g;
  }
  if (!top) return std::nullopt;
  return top->best;
}

}  // namespace genius
