// tokenizer.json loader and encoder. The first byte chooses:
//   even  the rest is a tokenizer.json: loaded (errors are std::runtime_error),
//         then a few fixed texts are encoded and decoded;
//   odd   the rest is text, encoded with a real byte-level vocabulary
//         ($GENIUS_FUZZ_TOKENIZER, default the arith model's): decode_bytes
//         must give back exactly the bytes encoded.
#include <cstdlib>
#include <stdexcept>

#include "fuzz_input.hpp"
#include "tokenizer.hpp"

namespace {

const genius::llama::Tokenizer& real_tokenizer() {
  static const genius::llama::Tokenizer tok = [] {
    const char* file = std::getenv("GENIUS_FUZZ_TOKENIZER");
    return genius::llama::Tokenizer::from_file(file ? file
                                                    : GENIUS_SOURCE_DIR "/examples/arith/base-model/tokenizer.json");
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest = genius::fuzz::as_text(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    try {
      const genius::llama::Tokenizer tok = genius::llama::Tokenizer::from_json(rest);
      for (const char* text : {"Hello world 123", " \n\t", "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", ""}) {
        const auto ids = tok.encode(text, true);
        (void)tok.decode(ids, true);
        (void)tok.decode_bytes(ids, false);
      }
    } catch (const std::runtime_error&) {
    } catch (const std::invalid_argument&) {
    }
    return 0;
  }
  const genius::llama::Tokenizer& tok = real_tokenizer();
  const auto ids = tok.encode(rest, false);
  if (tok.decode_bytes(ids, false) != rest) __builtin_trap();  // the byte-level round trip
  return 0;
}
