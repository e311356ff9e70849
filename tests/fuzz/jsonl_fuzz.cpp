// JSONL readers: any bytes as a JSONL file, read whole, repaired (a torn
// last line), and read as training queries in every layout. Errors are
// JsonlError (or std::runtime_error naming the file).
#include <stdexcept>

#include "data/query_formats.hpp"
#include "fuzz_input.hpp"
#include "io/jsonl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace genius::core;
  const auto file = genius::fuzz::as_file(data, size, ".jsonl");
  try {
    (void)read_jsonl(file);
  } catch (const std::runtime_error&) {
  }
  for (const char* layout : {"auto", "prompt", "alpaca", "messages", "sharegpt", "magpie"}) {
    QueryFormat format;
    format.format = layout;
    try {
      (void)load_queries(file, format, 0);
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
