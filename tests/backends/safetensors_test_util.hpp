// Helpers shared by the safetensors tests (safetensors_test.cpp,
// safetensors_malformed_test.cpp, safetensors_sharded_test.cpp): files
// written byte by byte, and a fixture with a fresh directory per test.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "safetensors.hpp"

namespace genius::llama::safetensors_test {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------
// Helpers

inline std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// A safetensors file assembled by hand: length prefix, header as given (no
// padding added), data.
inline std::string raw_file(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string as_string(ByteView bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
TensorToWrite tensor(std::string name, Dtype dtype, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  return {std::move(name), dtype, std::move(shape), values.data(), values.size() * sizeof(T)};
}

inline std::vector<std::string> directory_listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "safetensors_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }

  // The message SafetensorsFile::open gives for a file with these bytes;
  // every message names the file.
  std::string open_error(const std::string& bytes) {
    const fs::path path = dir_ / "bad.safetensors";
    write_bytes(path, bytes);
    return open_error_at(path);
  }
  static std::string open_error_at(const fs::path& path) {
    try {
      (void)SafetensorsFile::open(path);
    } catch (const SafetensorsError& e) {
      std::string message = e.what();
      EXPECT_THAT(message, HasSubstr(path.string()));
      return message;
    }
    ADD_FAILURE() << "no error opening " << path;
    return "";
  }
  std::string weights_error() {
    try {
      (void)ModelWeights::open(dir_);
    } catch (const SafetensorsError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error opening " << dir_;
    return "";
  }

  fs::path dir_;
};

}  // namespace genius::llama::safetensors_test
