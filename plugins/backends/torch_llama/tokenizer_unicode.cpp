#include "tokenizer_unicode.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace genius::llama::detail {

namespace {

constexpr char32_t kReplacementChar = 0xFFFD;

// Valid second bytes of a sequence depend on its first byte (Unicode table
// 3-7): E0 and F0 exclude overlong forms, ED excludes surrogates, F4 stops at
// U+10FFFF. Later continuation bytes are always 80..BF.
struct LeadByte {
  int length;            // 0: never starts a character
  unsigned char lo, hi;  // range of the second byte
};

LeadByte lead_byte(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes from s[i] form a valid prefix of a character (at most the
// full length); sets *complete when that prefix is the whole character.
std::size_t valid_prefix(std::string_view s, std::size_t i, bool* complete) {
  const auto first = static_cast<unsigned char>(s[i]);
  const LeadByte lead = lead_byte(first);
  *complete = false;
  if (lead.length == 0) return 0;
  if (lead.length == 1) {
    *complete = true;
    return 1;
  }
  std::size_t n = 1;
  while (n < static_cast<std::size_t>(lead.length) && i + n < s.size()) {
    const auto b = static_cast<unsigned char>(s[i + n]);
    const unsigned char lo = n == 1 ? lead.lo : 0x80;
    const unsigned char hi = n == 1 ? lead.hi : 0xBF;
    if (b < lo || b > hi) return n;
    ++n;
  }
  *complete = n == static_cast<std::size_t>(lead.length);
  return n;
}

}  // namespace

std::size_t utf8_char_at(std::string_view s, std::size_t i, char32_t* cp) {
  bool complete = false;
  const std::size_t n = valid_prefix(s, i, &complete);
  if (!complete) return 0;
  const auto b0 = static_cast<unsigned char>(s[i]);
  char32_t c = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  *cp = c;
  return n;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::size_t append_utf8_lossy(std::string& out, std::string_view bytes, bool final) {
  std::size_t i = 0;
  std::size_t run_start = 0;  // start of the valid bytes not yet copied
  while (i < bytes.size()) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    bool complete = false;
    const std::size_t n = valid_prefix(bytes, i, &complete);
    if (complete) {
      i += n;
      continue;
    }
    out.append(bytes.substr(run_start, i - run_start));
    if (!final && n > 0 && i + n == bytes.size()) return i;  // may still complete
    append_utf8(out, kReplacementChar);
    i += n == 0 ? 1 : n;  // the maximal subpart, or the single byte that starts nothing
    run_start = i;
  }
  out.append(bytes.substr(run_start));
  return bytes.size();
}

bool is_white_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

void normalize_valid_run(std::string& out, std::string_view run, NormalizationForm form) {
  bool ascii = true;
  for (char c : run) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) {  // ASCII is in every normalization form
    out.append(run);
    return;
  }
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalizationForm::NFC:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalizationForm::NFD:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalizationForm::NFKC:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalizationForm::NFKD:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()), static_cast<utf8proc_ssize_t>(run.size()),
                   &result, static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
  if (n < 0) throw std::runtime_error(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  out.append(reinterpret_cast<const char*>(result), static_cast<std::size_t>(n));
}

}  // namespace

std::string normalize(std::string_view text, NormalizationForm form) {
  std::string out;
  out.reserve(text.size());
  std::size_t run_start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    char32_t cp = 0;
    const std::size_t n = utf8_char_at(text, i, &cp);
    if (n > 0) {
      i += n;
      continue;
    }
    normalize_valid_run(out, text.substr(run_start, i - run_start), form);
    out.push_back(text[i]);  // not UTF-8: kept as it is
    run_start = ++i;
  }
  normalize_valid_run(out, text.substr(run_start), form);
  return out;
}

namespace {

struct ByteTables {
  std::array<std::string, 256> to_unicode;
  std::array<int, 0x200> to_byte{};  // every GPT-2 character is below U+0144
};

const ByteTables& byte_tables() {
  static const ByteTables tables = [] {
    ByteTables t;
    t.to_byte.fill(-1);
    char32_t next_free = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : next_free++;
      append_utf8(t.to_unicode[static_cast<std::size_t>(b)], cp);
      t.to_byte[cp] = b;
    }
    return t;
  }();
  return tables;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  return byte_tables().to_unicode;
}

int unicode_to_byte(char32_t cp) {
  const ByteTables& t = byte_tables();
  return cp < t.to_byte.size() ? t.to_byte[cp] : -1;
}

}  // namespace genius::llama::detail
