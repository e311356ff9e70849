#include "io/durable_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace genius::core {
namespace fs = std::filesystem;

void fsync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | (directory ? O_DIRECTORY : 0));
  if (fd < 0) throw std::runtime_error("cannot open '" + path.string() + "' to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot sync '" + path.string() + "'");
}

void fsync_tree(const fs::path& root) {
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file() || entry.is_directory()) fsync_path(entry.path(), entry.is_directory());
  fsync_path(root, true);
}

namespace {
fs::path aside(const fs::path& dir) {
  return dir.parent_path() / ("." + dir.filename().string() + ".old");
}
}  // namespace

void retire_directory(const fs::path& dir) {
  const fs::path hidden = aside(dir);
  fs::remove_all(hidden);
  fs::rename(dir, hidden);
  fs::remove_all(hidden);
}

void replace_directory(const fs::path& staging, const fs::path& target) {
  fsync_tree(staging);
  const fs::path old = aside(target);
  fs::remove_all(old);
  if (fs::exists(target)) fs::rename(target, old);
  fs::rename(staging, target);
  fsync_path(target.parent_path().empty() ? fs::path(".") : target.parent_path(), true);
  fs::remove_all(old);
}

}  // namespace genius::core
