// Progress of a long stage (explore, train, eval): a bar with rate and ETA
// redrawn in place on a terminal, or a plain line every few seconds when
// stderr is a file or a pipe (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace genius::core {

class Progress {
 public:
  /// `total` units of `unit` ("queries", "steps", "items").
  Progress(std::string label, std::int64_t total, std::string unit);
  ~Progress();

  /// Set the number of finished units (monotonic) and an optional note.
  void update(std::int64_t done, const std::string& note = "");
  /// Print the final line.
  void finish(const std::string& note = "");

  static bool interactive();

 private:
  void draw(bool final_line);

  std::string label_, unit_, note_;
  std::int64_t total_, done_ = 0, start_done_ = -1;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool finished_ = false;
};

}  // namespace genius::core
