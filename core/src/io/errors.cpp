#include "io/errors.hpp"

#include <filesystem>
#include <new>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/json_text.hpp>

namespace genius::core {

namespace {

constexpr std::size_t kLimit = 4096;

// "filesystem error: cannot create directories: Permission denied [/x/y]"
// -> "cannot create directories '/x/y': Permission denied".
std::string describe_filesystem(const std::filesystem::filesystem_error& e) {
  std::string what = e.what();
  const std::string prefix = "filesystem error: ";
  if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
  // The operation is the text before ": <error message>".
  const std::string reason = e.code().message();
  std::string op = what;
  if (const auto at = what.find(": " + reason); at != std::string::npos) op = what.substr(0, at);
  std::string out = op;
  if (!e.path1().empty()) out += " '" + e.path1().string() + "'";
  if (!e.path2().empty()) out += " to '" + e.path2().string() + "'";
  return out + ": " + reason;
}

// A libtorch message: the first lines before the "Exception raised from" /
// "frame #" backtrace.
std::string describe_torch(const c10::Error& e) {
  std::string text = e.what_without_backtrace();
  for (const char* marker : {"\nException raised from", "Exception raised from", "\nframe #"})
    if (const auto at = text.find(marker); at != std::string::npos) text.erase(at);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string describe(const std::exception& e) {
  std::string text;
  if (const auto* fs_error = dynamic_cast<const std::filesystem::filesystem_error*>(&e))
    text = describe_filesystem(*fs_error);
  else if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e))
    text = describe_torch(*torch_error);
  else if (dynamic_cast<const nlohmann::json::exception*>(&e))
    text = "invalid JSON data: " + json_error_text(e);
  else if (dynamic_cast<const std::bad_alloc*>(&e))
    text = "out of memory (an input asked for more than this machine has; check its sizes)";
  else
    text = e.what();
  return excerpt(text, kLimit);
}

}  // namespace genius::core
