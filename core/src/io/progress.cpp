#include "io/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace genius::core {

namespace {
std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

Progress::~Progress() {
  if (!finished_ && interactive()) std::fputc('\n', stderr);
}

bool Progress::interactive() {
  return ::isatty(STDERR_FILENO) == 1;
}

void Progress::update(std::int64_t done, const std::string& note) {
  if (start_done_ < 0) start_done_ = done_;  // units finished before this process (resume)
  done_ = done;
  note_ = note;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (interactive() ? since >= 0.1 : since >= 10.0) draw(false);
}

void Progress::finish(const std::string& note) {
  if (finished_) return;
  note_ = note;
  draw(true);
  finished_ = true;
}

void Progress::draw(bool final_line) {
  last_print_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_print_ - start_).count();
  const double rate = elapsed > 0 ? double(done_ - std::max<std::int64_t>(start_done_, 0)) / elapsed : 0;
  const double eta = rate > 0 ? double(total_ - done_) / rate : -1;
  char line[512];
  if (interactive()) {
    const int width = 24;
    const int filled = total_ > 0 ? static_cast<int>(width * done_ / total_) : width;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(static_cast<std::size_t>(width), '.');
    std::snprintf(line, sizeof line, "\r%-8s [%s] %lld/%lld %s  %.2f/s  %s %s %s\x1b[K", label_.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(), rate,
                  final_line ? "in" : "ETA", clock_text(final_line ? elapsed : eta).c_str(), note_.c_str());
    std::fputs(line, stderr);
    if (final_line) std::fputc('\n', stderr);
  } else {
    std::snprintf(line, sizeof line, "%s: %lld/%lld %s, %.2f/s, %s %s %s\n", label_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(), rate,
                  final_line ? "done in" : "ETA", clock_text(final_line ? elapsed : eta).c_str(), note_.c_str());
    std::fputs(line, stderr);
  }
  std::fflush(stderr);
}

}  // namespace genius::core
