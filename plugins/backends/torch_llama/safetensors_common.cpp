// Helpers shared by the sources of genius_llama_safetensors: messages, UTF-8
// validation and strict JSON parsing (declared in safetensors_internal.hpp).
#include <cerrno>
#include <cstring>
#include <set>

#include <genius/helpers/json_text.hpp>

#include "safetensors_internal.hpp"

namespace genius::llama::safetensors_detail {
namespace {

// The valid header nests three levels (root, tensor entry, shape array); the
// cap only bounds the work a hostile header can cause in ignored fields.
constexpr int kMaxJsonDepth = 64;

// Names and texts from a file can be arbitrarily long; messages quote at most
// this many bytes of them.
constexpr std::size_t kMaxQuoted = 200;

}  // namespace

[[noreturn]] void fail(const fs::path& file, const std::string& message) {
  throw SafetensorsError(file.string() + ": " + message);
}

std::string errno_text() {
  return std::strerror(errno);
}

std::string shortened(std::string_view s) {
  if (s.size() <= kMaxQuoted) return std::string(s);
  return std::string(s.substr(0, kMaxQuoted)) + "...(" + std::to_string(s.size()) + " bytes)";
}

std::string in_quotes(std::string_view s) {
  return "'" + shortened(s) + "'";
}

std::string json_text(const json& value) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (n - i < len) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

json parse_json_strict(std::string_view text, const fs::path& file, const std::string& what) {
  struct Object {
    std::set<std::string> keys;
    std::string last_key;
  };
  std::vector<Object> open;  // objects being parsed, innermost last
  int depth = 0;

  const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > kMaxJsonDepth)
          fail(file, what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        if (event == json::parse_event_t::object_start) open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        --depth;
        if (event == json::parse_event_t::object_end) open.pop_back();
        break;
      case json::parse_event_t::key: {
        Object& obj = open.back();
        obj.last_key = parsed.get<std::string>();
        if (!obj.keys.insert(obj.last_key).second) {
          if (open.size() == 1)
            fail(file, what + ": duplicate key " + in_quotes(obj.last_key) + " (a name may appear only once)");
          fail(file, what + ": duplicate key " + in_quotes(obj.last_key) + " inside " +
                         in_quotes(open[open.size() - 2].last_key));
        }
        break;
      }
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    // The message quotes the last token, which a hostile file can make huge.
    fail(file, what + " is not valid JSON: " + genius::json_error_text(e, kMaxQuoted));
  }
}

}  // namespace genius::llama::safetensors_detail
