// Logging through spdlog: console (stderr) at the chosen level, plus the
// run's log file at debug level once a run directory exists.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

namespace genius::core {

/// "trace" | "debug" | "info" | "warn" | "error" | "off"; nullopt otherwise.
std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name);

/// Install the default logger: stderr, colour when it is a terminal.
void setup_console_logging(spdlog::level::level_enum level);

/// One rank of a distributed job: console lines carry "[rank r]"; ranks
/// other than 0 show warnings and errors only (their log file has the rest).
void set_log_rank(int rank);

/// Also write every message (debug and up) to `file`, appending.
void add_log_file(const std::filesystem::path& file);
/// Detach every log file add_log_file() attached (the console stays).
void close_log_files();

}  // namespace genius::core
