#include "run/stage_fingerprint.hpp"

#include <zlib.h>

#include <fstream>
#include <set>
#include <vector>

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_text(const fs::path& file) {
  static const std::set<std::string> text = {".jsonl", ".json", ".toml", ".csv"};
  return text.count(file.extension().string()) > 0;
}

std::optional<std::uint32_t> crc32_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  uLong crc = crc32(0L, Z_NULL, 0);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0)
      crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(in.gcount()));
  }
  if (in.bad()) return std::nullopt;
  return static_cast<std::uint32_t>(crc);
}

json entry_of(const fs::path& file) {
  std::error_code ec;
  json e = {{"bytes", fs::file_size(file, ec)}};
  if (is_text(file))
    if (const auto crc = crc32_of(file)) e["crc32"] = *crc;
  return e;
}

}  // namespace

json fingerprint(const std::vector<fs::path>& outputs, const fs::path& root) {
  json out = json::object();
  std::error_code ec;
  for (const fs::path& output : outputs) {
    if (fs::is_regular_file(output, ec)) {
      out[fs::relative(output, root, ec).generic_string()] = entry_of(output);
    } else if (fs::is_directory(output, ec)) {
      for (fs::recursive_directory_iterator it(output, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) out[fs::relative(it->path(), root, ec).generic_string()] = entry_of(it->path());
    }
  }
  return out;
}

std::optional<std::string> fingerprint_mismatch(const json& recorded, const fs::path& root) {
  if (!recorded.is_object()) return std::nullopt;
  for (const auto& [relative, want] : recorded.items()) {
    const fs::path file = root / relative;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return relative + ": missing";
    const json now = entry_of(file);
    if (now["bytes"] != want.value("bytes", json())) {
      return relative + ": " + now["bytes"].dump() + " bytes now, " + want.value("bytes", json()).dump() +
             " when the stage finished";
    }
    if (want.contains("crc32") && now.value("crc32", json()) != want["crc32"])
      return relative + ": its content changed since the stage finished (CRC-32 differs)";
  }
  return std::nullopt;
}

}  // namespace genius::core
