// genius/helpers/json_text.hpp — nlohmann::json errors as a user reads them.
//
// nlohmann's exception texts start with an internal tag
// ("[json.exception.parse_error.101] parse error at line 3, column 1: ...");
// messages meant for users keep the part after it.
//
//     catch (const nlohmann::json::exception& e) {
//       throw MyError(file + ": invalid JSON: " + genius::json_error_text(e));
//     }
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

namespace genius {

/// At most `limit` bytes of `text`, cut on a UTF-8 boundary, with "..." and
/// the full size when cut: an excerpt of user input for an error message.
inline std::string excerpt(const std::string& text, std::size_t limit = 120) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "... (" + std::to_string(text.size()) + " bytes)";
}

/// `e.what()` without a leading "[json.exception.<kind>.<id>] " tag, and at
/// most `limit` bytes of it (nlohmann quotes the token it stopped at, which
/// may be a whole 50 MB line).
inline std::string json_error_text(const std::exception& e, std::size_t limit = 200) {
  std::string text = e.what();
  if (text.rfind("[json.exception.", 0) == 0)
    if (const auto end = text.find("] "); end != std::string::npos) text.erase(0, end + 2);
  return excerpt(text, limit);
}

/// JSON nested deeper than this is refused before it is parsed: the parser
/// and the destructor recurse once per level (100000 levels overflow the stack).
inline constexpr std::size_t kMaxJsonDepth = 512;

/// How deeply the arrays and objects of `text` nest (brackets inside strings
/// not counted); stops counting past kMaxJsonDepth + 1.
inline std::size_t json_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > kMaxJsonDepth) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

/// "" when `text` nests at most kMaxJsonDepth levels, else the problem.
inline std::string json_depth_problem(std::string_view text) {
  if (json_depth(text) <= kMaxJsonDepth) return "";
  return "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
}

}  // namespace genius
