// Chat template recognition: any bytes as tokenizer_config.json. A template
// is recognised or refused (std::runtime_error), never executed; rendering a
// recognised one must finish and contain the user message.
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "chat_template.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json config = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return 0;
  try {
    const auto chat = genius::llama::ChatTemplate::from_tokenizer_config(config, "tokenizer_config.json");
    const std::string prompt = chat.render("What is 2+3?");
    if (prompt.find("What is 2+3?") == std::string::npos) __builtin_trap();
    genius::llama::ChatOptions options;
    options.system_message = "Be brief.";
    options.enable_thinking = false;
    (void)chat.render("q", options);
    (void)chat.describe();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
