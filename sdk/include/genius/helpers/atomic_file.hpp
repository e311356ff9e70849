// genius/atomic_file.hpp — crash-safe file writes for the host and plugins.
//
// A reader (or a run resumed after kill -9) sees the old content or the new
// one, never a torn file: the content goes to a temporary file in the same
// directory, is flushed to disk, and is renamed over the target (atomic on
// POSIX); the directory is synced so the rename itself survives a crash.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace genius {

namespace detail {
[[noreturn]] inline void atomic_write_failed(const std::filesystem::path& path, const std::string& what, int error) {
  throw std::runtime_error("cannot write '" + path.string() + "': " + what + ": " + std::strerror(error));
}
}  // namespace detail

/// Replace `path` with `content` atomically. Throws std::runtime_error naming
/// the file on any failure; the temporary file is removed and `path` is left
/// as it was.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) detail::atomic_write_failed(path, "creating a temporary file in '" + dir.string() + "'", errno);
  auto fail = [&](const std::string& what) {
    const int error = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    detail::atomic_write_failed(path, what, error);
  };
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) fail("setting permissions");
  if (::fsync(fd) != 0) fail("syncing");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    detail::atomic_write_failed(path, "closing", error);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    detail::atomic_write_failed(path, "renaming the temporary file", error);
  }
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

/// The whole content of a file; throws std::runtime_error naming it.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path.string() + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace genius
