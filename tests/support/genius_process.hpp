// Running the real `genius` binary from a test: exit code, stdout, stderr.
// (Its own namespace: suites call their wrapper `genius(...)`.)
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace genius_test {

struct Output {
  int exit_code;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Run `genius ARGS` through the shell (ARGS is shell syntax), without
/// GENIUS_PLUGIN_PATH, with `env` prefixed, from directory `cwd` (default:
/// the test's own).
inline Output run_genius(const std::string& args, const std::string& env = "", const std::string& cwd = "") {
  const std::filesystem::path err =
      std::filesystem::temp_directory_path() / ("genius_test_stderr_" + std::to_string(::getpid()));
  const std::string command = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + "env -u GENIUS_PLUGIN_PATH " + env + " '" +
                              std::string(GENIUS_BINARY) + "' " + args + " 2>'" + err.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, slurp(err)};
}

}  // namespace genius_test
