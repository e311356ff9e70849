// Crash-safe file writes: a reader sees the old content or the new, never half.
#pragma once

#include <filesystem>
#include <string_view>

namespace genius::core {

/// Write `content` to a temporary file beside `path`, flush it to disk, then
/// rename it over `path` (atomic on POSIX). Throws std::runtime_error naming
/// the file on any failure; the temporary is removed.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// The whole content of a file; throws std::runtime_error naming it.
std::string read_file(const std::filesystem::path& path);

}  // namespace genius::core
