// safetensors reader: any bytes are opened as a file; every tensor's bytes
// are read. Errors are SafetensorsError; anything else is a finding.
#include "fuzz_input.hpp"
#include "safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = genius::fuzz::as_file(data, size, ".safetensors");
  try {
    const genius::llama::SafetensorsFile st = genius::llama::SafetensorsFile::open(file);
    std::uint64_t sum = 0;
    for (const auto& info : st.tensors()) {
      const auto bytes = st.data(info);
      for (std::size_t i = 0; i < bytes.size; i += 4096) sum += static_cast<unsigned char>(bytes.data[i]);
    }
    if (sum == 0xdeadbeef) return 1;  // keep the reads
  } catch (const genius::llama::SafetensorsError&) {
  }
  return 0;
}
