#include "eval/checkers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <regex>

#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>

namespace genius::core {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The last match's first group of `re` in `text`, or nullopt.
std::optional<std::string> last_group(const std::string& text, const std::regex& re) {
  std::optional<std::string> last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    last = (*it)[1].str();
  return last;
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", v == 0 ? 0.0 : v);  // no "-0"
  return buf;
}

bool close(double a, double b) {
  return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b));
}

// The content of the last \boxed{...} or \fbox{...}.
std::optional<std::string> last_box(std::string_view text) {
  std::optional<std::string> boxed = extract_boxed(text);
  const std::size_t b = text.rfind("\\boxed{"), f = text.rfind("\\fbox{");
  if (f != std::string_view::npos && (b == std::string_view::npos || f > b)) {
    std::string rewritten(text.substr(f));
    rewritten.replace(0, 6, "\\boxed{");
    boxed = extract_boxed(rewritten);
  }
  return boxed;
}

// The text after the last "the answer is" (up to the end of its sentence).
std::optional<std::string> answer_is(const std::string& text) {
  static const std::regex re(
      R"((?:[Tt]he (?:final |correct )?answer is|[Ff]inal [Aa]nswer:|^[Aa]nswer:|\n[Aa]nswer:)[:\s]*([^\n]*))");
  std::optional<std::string> tail = last_group(text, re);
  if (!tail) return std::nullopt;
  std::string s = trim(*tail);
  // A sentence ends at ". " or at the end; keep decimals ("3.5") and LaTeX.
  static const std::regex sentence_end(R"(\.(\s|$))");
  std::smatch m;
  if (std::regex_search(s, m, sentence_end)) s = s.substr(0, static_cast<std::size_t>(m.position(0)));
  return s;
}

std::string strip_dollars(std::string s) {
  s = trim(s);
  while (s.size() >= 2 && s.front() == '$' && s.back() == '$') s = trim(s.substr(1, s.size() - 2));
  if (s.size() >= 4 && s.rfind("\\(", 0) == 0 && s.compare(s.size() - 2, 2, "\\)") == 0)
    s = trim(s.substr(2, s.size() - 4));
  return s;
}

// ----------------------------------------------------------------- boxed

// boxed (AnswerExtractor("") reads the last \boxed{}) and regex: normalize_answer's comparison.
class ExtractorChecker final : public AnswerChecker {
 public:
  ExtractorChecker(std::string name, const std::string& pattern) : name_(std::move(name)), extract_(pattern) {}
  std::string name() const override { return name_; }
  std::optional<std::string> extract(std::string_view response) const override {
    std::optional<std::string> a = extract_(response);
    if (a && normalize_answer(*a).empty()) return std::nullopt;  // \boxed{} is no answer
    return a;
  }
  bool equal(std::string_view a, std::string_view b) const override { return same_answer(a, b); }
  std::string canonical(std::string_view a) const override { return normalize_answer(a); }

 private:
  std::string name_;
  AnswerExtractor extract_;
};

// ----------------------------------------------------------------- gsm8k

class Gsm8kChecker final : public AnswerChecker {
 public:
  std::string name() const override { return "gsm8k"; }
  std::optional<std::string> extract(std::string_view response) const override {
    const std::string text(response);
    static const std::regex hashes(R"(####\s*([^\n]*))");
    std::vector<std::optional<std::string>> candidates = {last_group(text, hashes), answer_is(text), last_box(text)};
    for (const auto& c : candidates)
      if (c)
        if (const auto v = parse_number(*c)) return format_number(*v);
    // Else the last number of the response.
    static const std::regex number(R"((-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+))");
    if (const auto last = last_group(text, number))
      if (const auto v = parse_number(*last)) return format_number(*v);
    return std::nullopt;
  }
  std::string reference(std::string_view raw) const override {
    const std::size_t at = raw.rfind("####");
    const std::string tail = trim(at == std::string_view::npos ? raw : raw.substr(at + 4));
    const auto v = parse_number(tail);
    return v ? format_number(*v) : tail;
  }
  bool equal(std::string_view a, std::string_view b) const override {
    const auto x = parse_number(a), y = parse_number(b);
    return x && y && close(*x, *y);
  }
  std::string canonical(std::string_view a) const override {
    const auto v = parse_number(a);
    return v ? format_number(*v) : trim(a);
  }
};

// ------------------------------------------------------------------ math

class MathChecker final : public AnswerChecker {
 public:
  std::string name() const override { return "math"; }
  std::optional<std::string> extract(std::string_view response) const override {
    std::optional<std::string> a = last_box(response);
    if (!a) a = answer_is(std::string(response));
    if (!a) return std::nullopt;
    std::string s = strip_dollars(*a);
    if (normalize_latex(s).empty()) return std::nullopt;
    return s;
  }
  std::string reference(std::string_view raw) const override {
    if (const auto boxed = last_box(raw)) return strip_dollars(*boxed);
    return strip_dollars(std::string(raw));
  }
  bool equal(std::string_view a, std::string_view b) const override {
    const std::string x = normalize_latex(a), y = normalize_latex(b);
    if (x == y) return true;
    const auto u = latex_value(x), v = latex_value(y);
    if (u && v) return close(*u, *v);
    // Tuples, intervals and lists: the same brackets, element by element.
    const auto xs = elements(x), ys = elements(y);
    if (xs.size() > 1 && xs.size() == ys.size() && x.front() == y.front() && x.back() == y.back()) {
      for (std::size_t i = 0; i < xs.size(); ++i)
        if (!equal(xs[i], ys[i])) return false;
      return true;
    }
    return false;
  }
  std::string canonical(std::string_view a) const override { return normalize_latex(a); }

 private:
  // The top-level comma-separated parts of "(a,b)", "[a,b)", "a,b".
  static std::vector<std::string> elements(const std::string& s) {
    std::string body = s;
    if (body.size() >= 2 && std::string("([{").find(body.front()) != std::string::npos &&
        std::string(")]}").find(body.back()) != std::string::npos)
      body = body.substr(1, body.size() - 2);
    std::vector<std::string> parts;
    int depth = 0;
    std::string current;
    for (char c : body) {
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') --depth;
      if (c == ',' && depth == 0) {
        parts.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    parts.push_back(current);
    return parts;
  }
};

// ---------------------------------------------------------------- choice

std::optional<std::string> option_letter(const std::string& s) {
  static const std::regex alone(R"(^\s*\(?\\?(?:text\{)?([A-J])\}?\)?(?:[.:)\s]|$))");
  std::smatch m;
  if (std::regex_search(s, m, alone)) return m[1].str();
  return std::nullopt;
}

class ChoiceChecker final : public AnswerChecker {
 public:
  std::string name() const override { return "choice"; }
  std::optional<std::string> extract(std::string_view response) const override {
    const std::string text(response);
    if (const auto boxed = last_box(text))
      if (const auto l = option_letter(*boxed)) return l;
    static const std::regex stated(
        R"((?:[Aa]nswer(?: is)?|[Oo]ption|[Cc]hoice)\s*(?:is)?\s*(?::|\xEF\xBC\x9A)?\s*\(?\**([A-J])\**\)?(?![A-Za-z]))");
    if (const auto l = last_group(text, stated)) return l;
    static const std::regex parens(R"(\(([A-J])\))");
    if (const auto l = last_group(text, parens)) return l;
    if (const auto l = option_letter(text); l && trim(text).size() <= 3) return l;
    return std::nullopt;
  }
  std::string reference(std::string_view raw) const override {
    const std::string s = trim(raw);
    if (s.size() == 1 && std::isdigit(static_cast<unsigned char>(s[0])))
      return std::string(1, char('A' + (s[0] - '0')));
    if (const auto l = option_letter(s)) return *l;
    return s;
  }
  bool equal(std::string_view a, std::string_view b) const override { return canonical(a) == canonical(b); }
  std::string canonical(std::string_view a) const override {
    const std::string s = trim(a);
    if (const auto l = option_letter(s)) return *l;
    std::string u = s;
    for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u;
  }
};

// ----------------------------------------------------------------- yesno

class YesNoChecker final : public AnswerChecker {
 public:
  std::string name() const override { return "yesno"; }
  std::optional<std::string> extract(std::string_view response) const override {
    if (const auto boxed = last_box(response))
      if (const auto v = word(*boxed)) return v;
    static const std::regex re(R"(\b([Yy][Ee][Ss]|[Nn][Oo]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\b)");
    const auto last = last_group(std::string(response), re);
    return last ? word(*last) : std::nullopt;
  }
  std::string reference(std::string_view raw) const override { return word(std::string(raw)).value_or(trim(raw)); }
  bool equal(std::string_view a, std::string_view b) const override {
    const auto x = word(std::string(a)), y = word(std::string(b));
    return x && y && *x == *y;
  }
  std::string canonical(std::string_view a) const override { return word(std::string(a)).value_or(trim(a)); }

 private:
  static std::optional<std::string> word(const std::string& s) {
    std::string w = lower(trim(s));
    while (!w.empty() && std::ispunct(static_cast<unsigned char>(w.back()))) w.pop_back();
    if (w == "yes" || w == "true") return "yes";
    if (w == "no" || w == "false") return "no";
    return std::nullopt;
  }
};

}  // namespace

// ------------------------------------------------------------------ rules

std::optional<double> parse_number(std::string_view text) {
  std::string s = trim(text);
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  replace_all(s, "\\%", "");
  replace_all(s, "\\!", "");
  replace_all(s, "\u2212", "-");  // the minus sign
  s.erase(std::remove(s.begin(), s.end(), '%'), s.end());
  // Thousands separators: a comma between digits.
  std::string clean;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',' && i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 1])))
      continue;
    clean += s[i];
  }
  // The first number, then nothing but words (units) and punctuation.
  // The leading number; what follows it (units, words) must not continue it.
  static const std::regex re(R"(^\s*([-+]?)\s*(\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*(\d+))?(?![\d.,/]))");
  std::smatch m;
  if (!std::regex_search(clean, m, re)) {
    if (const auto v = latex_value(normalize_latex(clean))) return v;
    return std::nullopt;
  }
  double v = std::stod(m[2].str());
  if (m[3].matched) {
    const double d = std::stod(m[3].str());
    if (d == 0) return std::nullopt;
    v /= d;
  }
  if (m[1].str() == "-") v = -v;
  return v;
}

std::string normalize_latex(std::string_view answer) {
  std::string s = trim(answer);
  // In this order: "\\" before the commands it may spell, fracs before their shapes.
  static const std::pair<const char*, const char*> rewrites[] = {
      {"\n", ""},        {"\\!", ""},       {"\\\\", "\\"},   {"{,}", ","},    {"\\displaystyle", ""},
      {"tfrac", "frac"}, {"dfrac", "frac"}, {"\\left", ""},   {"\\right", ""}, {"^{\\circ}", ""},
      {"^\\circ", ""},   {"\\circ", ""},    {"\\degree", ""}, {"°", ""},       {"\\$", ""},
      {"$", ""},         {"\\%", ""},       {"%", ""},        {"\\,", ""},     {"\\;", ""},
      {"\\ ", ""},       {"~", ""}};
  for (const auto& [from, to] : rewrites) replace_all(s, from, to);
  // \text{...}: the whole answer's text is kept; a trailing unit is dropped.
  static const std::regex whole_text(R"(^\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}$)");
  static const std::regex unit(R"(\\(?:text|mbox|mathrm)\{\s*[^{}]*\}\s*$)");
  std::smatch m;
  if (std::regex_match(s, m, whole_text))
    s = m[1].str();
  else
    for (std::string before; before != s;) before = s, s = std::regex_replace(s, unit, "");
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
          s.end());
  while (!s.empty() && s.back() == '.') s.pop_back();
  // "x=5", "k=-2": a short variable before one '=' goes.
  if (const std::size_t eq = s.find('=');
      eq != std::string::npos && eq <= 2 && s.find('=', eq + 1) == std::string::npos)
    s = s.substr(eq + 1);
  // \sqrt2 -> \sqrt{2}; \frac12 -> \frac{1}{2}; \frac1{2} and \frac{1}2 likewise.
  static const std::regex sqrt_bare(R"(\\sqrt(\w))");
  s = std::regex_replace(s, sqrt_bare, "\\sqrt{$1}");
  static const std::regex frac_bare2(R"(\\frac(\w)(\w))"), frac_bare1(R"(\\frac(\w)\{)"),
      frac_bare_den(R"(\\frac\{([^{}]*)\}(\w))");
  s = std::regex_replace(s, frac_bare2, "\\frac{$1}{$2}");
  s = std::regex_replace(s, frac_bare1, "\\frac{$1}{");
  s = std::regex_replace(s, frac_bare_den, "\\frac{$1}{$2}");
  // x^{2} -> x^2 (one character).
  static const std::regex short_power(R"(\^\{(\w)\})");
  s = std::regex_replace(s, short_power, "^$1");
  // a/b of integers -> \frac{a}{b}; ".5" -> "0.5".
  static const std::regex slash(R"(^(-?\d+)/(\d+)$)");
  s = std::regex_replace(s, slash, "\\frac{$1}{$2}");
  if (!s.empty() && s[0] == '.') s = "0" + s;
  if (s.rfind("-.", 0) == 0) s = "-0" + s.substr(1);
  return s;
}

std::optional<double> latex_value(std::string_view normalized) {
  const std::string s(normalized);
  static const std::regex number(R"(^([-+]?)(\d+(?:\.\d*)?|\.\d+)$)");
  static const std::regex frac(R"(^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$)");
  std::smatch m;
  std::string plain = s;
  plain.erase(std::remove(plain.begin(), plain.end(), ','), plain.end());
  if (std::regex_match(plain, m, number)) return (m[1].str() == "-" ? -1 : 1) * std::stod(m[2].str());
  if (std::regex_match(s, m, frac)) {
    const double d = std::stod(m[3].str());
    if (d == 0) return std::nullopt;
    return (m[1].str() == "-" ? -1 : 1) * std::stod(m[2].str()) / d;
  }
  // A mixed number, as MATH writes them: 2\frac{1}{2} = 2.5.
  static const std::regex mixed(R"(^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$)");
  if (std::regex_match(s, m, mixed) && std::stod(m[4].str()) != 0)
    return (m[1].str() == "-" ? -1 : 1) * (std::stod(m[2].str()) + std::stod(m[3].str()) / std::stod(m[4].str()));
  return std::nullopt;
}

const std::vector<std::string>& checker_names() {
  static const std::vector<std::string> names = {"boxed", "regex", "gsm8k", "math", "choice", "yesno"};
  return names;
}

std::unique_ptr<AnswerChecker> make_checker(const std::string& name, const std::string& answer_regex) {
  if (name == "boxed") return std::make_unique<ExtractorChecker>("boxed", "");
  if (name == "gsm8k") return std::make_unique<Gsm8kChecker>();
  if (name == "math") return std::make_unique<MathChecker>();
  if (name == "choice") return std::make_unique<ChoiceChecker>();
  if (name == "yesno") return std::make_unique<YesNoChecker>();
  if (name == "regex") {
    if (answer_regex.empty()) throw ConfigError("eval.checker = \"regex\" needs [eval] answer_regex");
    try {
      return std::make_unique<ExtractorChecker>("regex", answer_regex);
    } catch (const std::regex_error& e) {
      throw ConfigError("eval.answer_regex: invalid regular expression '" + answer_regex + "': " + e.what());
    }
  }
  std::string known;
  for (const std::string& n : checker_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("eval.checker: unknown checker '" + name + "' (" + known + ")");
}

}  // namespace genius::core
