// Preference pairs and exploration records: any bytes as pairs.jsonl, and
// each JSON line as an exploration record. Errors are std::runtime_error
// naming file:line; a pair read back must write the same JSON.
#include <stdexcept>

#include "fuzz_input.hpp"
#include "io/jsonl.hpp"
#include "io/records_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace genius::core;
  const auto file = genius::fuzz::as_file(data, size, ".jsonl");
  try {
    for (const genius::PreferencePair& p : load_pairs(file))
      if (pair_from_json(to_json(p), "again").chosen != p.chosen) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  try {
    for (const JsonlLine& line : read_jsonl(file).lines) {
      try {
        (void)record_from_json(line.value, "line");
      } catch (const std::runtime_error&) {
      }
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
