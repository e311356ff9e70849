#include "io/jsonl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/json_text.hpp>

namespace genius::core {

namespace fs = std::filesystem;

JsonlContents read_jsonl(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw JsonlError(file.string() + ": cannot open (" + std::strerror(errno) + ")");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  JsonlContents out;
  std::size_t pos = 0;
  for (long number = 1; pos < text.size(); ++number) {
    const std::size_t end = text.find('\n', pos);
    const bool terminated = end != std::string::npos;
    const std::string line = text.substr(pos, (terminated ? end : text.size()) - pos);
    const std::size_t next = terminated ? end + 1 : text.size();
    if (line.find_first_not_of(" \t\r") != std::string::npos) {
      if (const std::string deep = json_depth_problem(line); !deep.empty())
        throw JsonlError(file.string() + ":" + std::to_string(number) + ": invalid JSON: " + deep);
      try {
        out.lines.push_back({number, nlohmann::json::parse(line)});
      } catch (const nlohmann::json::exception& e) {
        if (!terminated) {  // the writer died mid-line: drop it
          out.torn_tail = true;
          out.valid_bytes = pos;
          return out;
        }
        throw JsonlError(file.string() + ":" + std::to_string(number) + ": invalid JSON: " + json_error_text(e));
      }
    }
    pos = next;
  }
  out.valid_bytes = text.size();
  return out;
}

JsonlContents repair_jsonl(const fs::path& file) {
  JsonlContents contents = read_jsonl(file);
  if (contents.torn_tail) fs::resize_file(file, contents.valid_bytes);
  return contents;
}

JsonlAppender::JsonlAppender(const fs::path& file) : file_(file) {
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open '" + file.string() + "' for appending: " + std::strerror(errno));
}

JsonlAppender::~JsonlAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlAppender::append(const std::vector<nlohmann::json>& values) {
  std::string text;
  for (const auto& v : values) text += v.dump() + "\n";
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot append to '" + file_.string() + "': " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) throw std::runtime_error("cannot sync '" + file_.string() + "': " + std::strerror(errno));
}

void write_jsonl_atomic(const fs::path& file, const std::vector<nlohmann::json>& values) {
  std::string text;
  for (const auto& v : values) text += v.dump() + "\n";
  write_file_atomic(file, text);
}

}  // namespace genius::core
