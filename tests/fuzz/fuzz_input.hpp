// Shared by the fuzz targets: the input as a file, for readers that take a path.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace genius::fuzz {

/// A file of this process holding the fuzzer's input (rewritten each call).
inline std::filesystem::path as_file(const std::uint8_t* data, std::size_t size, const char* extension) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("genius-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::filesystem::path file = dir / (std::string("input") + extension);
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return file;
}

inline std::string as_text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace genius::fuzz
