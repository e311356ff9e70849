// Internal to genius_llama_tokenizer: UTF-8, Unicode properties and
// normalization (utf8proc), and GPT-2's byte-to-unicode table.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace genius::llama::detail {

/// Length of the UTF-8 character at s[i] and its code point in *cp; 0 when the
/// bytes there are not a well-formed character (overlong forms, surrogates and
/// code points above U+10FFFF are not).
std::size_t utf8_char_at(std::string_view s, std::size_t i, char32_t* cp);

void append_utf8(std::string& out, char32_t cp);

/// Appends `bytes` to `out`, replacing each maximal ill-formed subsequence by
/// one U+FFFD (Unicode's "substitution of maximal subparts", as Rust's
/// String::from_utf8_lossy). Unless `final`, an incomplete character at the
/// end that could still become valid is left out. Returns the bytes consumed.
std::size_t append_utf8_lossy(std::string& out, std::string_view bytes, bool final);

/// Unicode White_Space (Oniguruma's and Rust's \s, Rust's char::is_whitespace).
bool is_white_space(char32_t cp);

enum class NormalizationForm { NFC, NFD, NFKC, NFKD };

/// `text` in the given normalization form. Bytes that are not valid UTF-8 are
/// kept as they are; the valid runs between them are normalized.
std::string normalize(std::string_view text, NormalizationForm form);

/// GPT-2's byte-to-unicode table: the printable bytes stand for themselves,
/// the others for U+0100.. in byte order. Each entry is UTF-8 (1 or 2 bytes).
const std::array<std::string, 256>& byte_to_unicode();
/// The byte a GPT-2 character stands for, or -1.
int unicode_to_byte(char32_t cp);

}  // namespace genius::llama::detail
