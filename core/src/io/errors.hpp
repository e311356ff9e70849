// What a user reads when a command fails: the message of an exception
// without library internals (nlohmann's "[json.exception...]" tags, libtorch's
// C++ stack frames, libstdc++'s "filesystem error:" wording), bounded in size.
//
//   catch (const std::exception& e) { std::cerr << describe(e) << "\n"; }
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace genius::core {

/// The user-facing text of `e` (at most 4 KiB):
///   std::filesystem::filesystem_error  "cannot create directories '/x/y': Permission denied"
///   c10::Error (libtorch)              its message without the backtrace
///   nlohmann::json::exception          "invalid JSON data: <message without its tag>"
///   std::bad_alloc                     "out of memory (...)"
///   anything else                      e.what()
std::string describe(const std::exception& e);

/// Bad input found while a command works (a model directory it loads, a
/// stage's missing input, a checkpoint that is not there): the command exits
/// 2 (bad input), not 1 (a run that failed).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// `body()`, with any exception it throws turned into an InputError with
/// the same (described) message: for the loading of user-given inputs.
template <class F>
auto as_input_error(F body) {
  try {
    return body();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(describe(e));
  }
}

}  // namespace genius::core
