// JSON Lines files: reading with line numbers, appending crash-safely.
//
// A run appends records as it goes; a kill -9 can leave the last line torn
// (no newline, or half a JSON object). Readers drop exactly that case — the
// final line, unterminated and unparsable — with a warning, and treat any
// other malformed line as an error naming the file and line.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace genius::core {

/// A malformed line, named "FILE:LINE: what".
class JsonlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct JsonlLine {
  long number;  ///< 1-based line number in the file
  nlohmann::json value;
};

struct JsonlContents {
  std::vector<JsonlLine> lines;    ///< blank lines skipped
  bool torn_tail = false;          ///< an unterminated, unparsable last line was dropped
  std::uintmax_t valid_bytes = 0;  ///< file size without the torn tail
};

/// Read every line of `file` as JSON. Throws JsonlError for a missing file
/// or a bad line (other than a torn tail).
JsonlContents read_jsonl(const std::filesystem::path& file);

/// Drop a torn tail from `file` in place (so appends start on a fresh line);
/// returns the parsed lines.
JsonlContents repair_jsonl(const std::filesystem::path& file);

/// Appends JSON values as lines; each append() is written with one write(2)
/// and flushed to disk with fsync before it returns, so a finished record
/// survives a crash.
class JsonlAppender {
 public:
  explicit JsonlAppender(const std::filesystem::path& file);
  ~JsonlAppender();
  JsonlAppender(const JsonlAppender&) = delete;
  JsonlAppender& operator=(const JsonlAppender&) = delete;

  void append(const std::vector<nlohmann::json>& values);
  void append(const nlohmann::json& value) { append(std::vector<nlohmann::json>{value}); }

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

/// Write all values as a JSONL file atomically (replacing it).
void write_jsonl_atomic(const std::filesystem::path& file, const std::vector<nlohmann::json>& values);

}  // namespace genius::core
