#include "tokenizer_regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

#include "tokenizer_unicode.hpp"

namespace genius::llama::detail {

namespace {

// Oniguruma's \w: Alphabetic, marks, decimal digits and connector
// punctuation; outside a character class its Latin-1 table also counts
// the numbers ² ³ ¹ ¼ ½ ¾ (No) as word characters.
constexpr std::string_view kWordInClass = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}";
constexpr std::string_view kWordLatin1Extra = "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";

// Oniguruma's meaning of the POSIX classes that PCRE2 reads otherwise.
std::string_view posix_class(std::string_view name) {
  if (name == "alpha") return "\\p{Alphabetic}";
  if (name == "alnum") return "\\p{Alphabetic}\\p{Nd}";
  if (name == "word") return kWordInClass;
  if (name == "digit") return "\\p{Nd}";
  if (name == "space") return "\\p{White_Space}";
  if (name == "upper") return "\\p{Uppercase}";
  if (name == "lower") return "\\p{Lowercase}";
  if (name == "punct") return "\\p{P}\\p{S}";
  return {};
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

std::string oniguruma_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  bool class_start = false;  // just after "[" or "[^", where "]" is a literal
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      class_start = false;
      switch (e) {
        case 's':
          out += "\\p{White_Space}";
          break;
        case 'S':
          out += "\\P{White_Space}";
          break;
        case 'd':
          out += "\\p{Nd}";
          break;
        case 'D':
          out += "\\P{Nd}";
          break;
        case 'w':
          out += in_class ? std::string(kWordInClass)
                          : "[" + std::string(kWordInClass) + std::string(kWordLatin1Extra) + "]";
          break;
        case 'h':
          out += in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
          break;
        case 'W':
        case 'H':
          if (in_class) {
            throw std::invalid_argument(std::string("\\") + e + " inside a character class is not supported");
          }
          out += e == 'W' ? "[^" + std::string(kWordInClass) + std::string(kWordLatin1Extra) + "]" : "[^0-9a-fA-F]";
          break;
        default:
          out += '\\';
          out += e;  // \p{L}, \r, \x{..}, escaped punctuation: same meaning in PCRE2
      }
      continue;
    }
    if (c == '[') {
      if (in_class) {
        const std::size_t end = i + 1 < p.size() && p[i + 1] == ':' ? p.find(":]", i + 2) : std::string_view::npos;
        if (end == std::string_view::npos) {
          throw std::invalid_argument("nested character classes are not supported");
        }
        const std::string_view name = p.substr(i + 2, end - i - 2);  // a POSIX class such as [:alpha:]
        const std::string_view meaning = posix_class(name);
        out.append(meaning.empty() ? p.substr(i, end + 2 - i) : meaning);
        i = end + 1;
        class_start = false;
        continue;
      }
      in_class = class_start = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      continue;
    }
    if (c == ']' && in_class && !class_start) in_class = false;
    class_start = false;
    out += c;
  }
  return out;
}

struct SplitPattern::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

std::shared_ptr<const SplitPattern::Compiled> compile(std::string_view pattern, uint32_t options) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto compiled = std::make_shared<SplitPattern::Compiled>();
  compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                 options | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (compiled->code == nullptr) {
    throw std::invalid_argument(pcre2_message(error) + " at offset " + std::to_string(offset));
  }
  pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  return compiled;
}

// Per-thread match state: match data may not be shared between threads, nor
// may a JIT stack. Long runs of one character class need more than PCRE2's
// default 32 KiB of JIT stack.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(std::size_t{32} * 1024, std::size_t{16} * 1024 * 1024, nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~MatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

bool is_regex_word_char(char32_t cp) {
  static const auto word =
      compile("[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]", PCRE2_UCP | PCRE2_ANCHORED);
  std::string encoded;
  append_utf8(encoded, cp);
  MatchState& state = match_state();
  return pcre2_match(word->code, reinterpret_cast<PCRE2_SPTR>(encoded.data()), encoded.size(), 0, 0, state.data,
                     state.context) >= 0;
}

SplitPattern SplitPattern::regex(std::string_view oniguruma_pattern) {
  return SplitPattern(compile(oniguruma_to_pcre2(oniguruma_pattern), PCRE2_UCP | PCRE2_MULTILINE));
}

SplitPattern SplitPattern::literal(std::string_view text) {
  return SplitPattern(compile(text, PCRE2_LITERAL));
}

void SplitPattern::find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  MatchState& state = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const int rc = pcre2_match(compiled_->code, subject, text.size(), pos, 0, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw std::runtime_error("split pattern: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end > begin) {
      out.emplace_back(begin, end);
      pos = end;
    } else {  // an empty match splits nothing: go on after the next character
      char32_t cp = 0;
      const std::size_t n = end < text.size() ? utf8_char_at(text, end, &cp) : 1;
      pos = end + (n == 0 ? 1 : n);
    }
  }
}

}  // namespace genius::llama::detail
