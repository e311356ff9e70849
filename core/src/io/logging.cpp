#include "io/logging.hpp"

#include <algorithm>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace genius::core {

std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name) {
  for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
                     spdlog::level::err, spdlog::level::off}) {
    if (name == spdlog::level::to_string_view(level) || (level == spdlog::level::warn && name == "warn") ||
        (level == spdlog::level::err && name == "error"))
      return level;
  }
  return std::nullopt;
}

void setup_console_logging(spdlog::level::level_enum level) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(level);
  console->set_pattern("[%H:%M:%S] %^%l%$: %v");
  auto logger = std::make_shared<spdlog::logger>("genius", console);
  logger->set_level(spdlog::level::trace);  // the sinks filter
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void set_log_rank(int rank) {
  auto& console = spdlog::default_logger()->sinks().front();
  console->set_pattern("[%H:%M:%S] [rank " + std::to_string(rank) + "] %^%l%$: %v");
  if (rank > 0 && console->level() < spdlog::level::warn) console->set_level(spdlog::level::warn);
}

void add_log_file(const std::filesystem::path& file) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string(), /*truncate=*/false);
  sink->set_level(spdlog::level::debug);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::default_logger()->sinks().push_back(std::move(sink));
}

void close_log_files() {
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                             [](const spdlog::sink_ptr& s) {
                               return std::dynamic_pointer_cast<spdlog::sinks::basic_file_sink_mt>(s) != nullptr;
                             }),
              sinks.end());
}

}  // namespace genius::core
