// Chat prompt formatting: the text a chat model is given for one query.
//
// The self-training loop sends each query as one user message (optionally
// after a system message) followed by the assistant generation prompt, and the
// model continues from there. A Hugging Face model directory describes that
// text with a Jinja `chat_template` in tokenizer_config.json. We embed no
// Jinja engine: we recognise the template's family, read the few things that
// vary inside a family from the template text (literal strings such as the
// default system prompt, the knowledge-cutoff line or the generation prompt)
// and render in C++. The result equals what the template renders (checked
// byte for byte against @huggingface/jinja in tests/backends/chat_template_test.cpp):
//
//   llama3  Llama 3 / 3.1 / 3.2 / 3.3 (`<|start_header_id|>`, `<|eot_id|>`):
//             <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n
//             Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n
//             SYSTEM<|eot_id|>                      (3.1+ always; 3.0 only with a system message)
//             <|start_header_id|>user<|end_header_id|>\n\nUSER<|eot_id|>
//             <|start_header_id|>assistant<|end_header_id|>\n\n
//           contents are `| trim`med (Python's str.strip(): Unicode whitespace).
//   chatml  Qwen2 / 2.5 / 3, QwQ, SmolLM2 (`<|im_start|>`, `<|im_end|>`):
//             [<|im_start|>system\nSYSTEM-or-DEFAULT<|im_end|>\n]
//             <|im_start|>user\nUSER<|im_end|>\n<|im_start|>assistant\n
//             [<think>\n]                            (QwQ: the generation prompt opens it)
//             [<think>\n\n</think>\n\n]              (Qwen3 with enable_thinking = false)
//   plain   no chat template (base models): [BOS]USER, then "\n" as the
//           generation prompt, so the answer starts on its own line and the
//           last word of the query never merges with the first word of the
//           answer into one token. A system message, if any, is a first line.
//
// BOS: the rendered text is the complete prompt. It starts with bos_token when
// the template writes `bos_token` (all Llama 3 templates do; Qwen's do not)
// and, for plain, whenever tokenizer_config.json has a bos_token. Encode it
// WITHOUT adding special tokens (transformers' apply_chat_template does the
// same), or the model sees two BOS tokens.
//
// Recognition is by the template's literals, so a family's variants need no
// code here as long as they keep its layout; a template of a known family
// whose generation prompt cannot be found is an error. Not modelled: tools,
// images, multi-turn history, a default system prompt held in a variable
// rather than spelled out as a literal system turn, and Qwen1.5's omission of
// the last <|im_end|> when add_generation_prompt is false.
//
// Depends on nlohmann_json only (no torch).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace genius::llama {

enum class ChatFamily { Llama3, ChatML, Plain };

/// "llama3", "chatml" or "plain".
std::string_view to_string(ChatFamily family);

/// Parses a family name as written in a config: "llama3", "chatml", "plain",
/// or "auto" (returns nullopt: detect it from the template). Throws
/// std::invalid_argument naming the valid names for anything else.
std::optional<ChatFamily> parse_chat_family(std::string_view name);

/// What else goes into a prompt besides the user message.
struct ChatOptions {
  bool add_generation_prompt = true;
  /// A system message before the user message. nullopt: none, so the
  /// template's default applies (Qwen2.5's "You are Qwen, ..."; Llama 3.1's
  /// empty system block).
  std::optional<std::string> system_message;
  /// Qwen3's switch. nullopt leaves it undefined, which the template treats as
  /// true; false appends the empty "<think>\n\n</think>\n\n" block after the
  /// generation prompt. Ignored, as by the template, where there is no switch.
  std::optional<bool> enable_thinking;
  /// Llama 3.1+ "Today Date: ..." line. nullopt: the template's default, which
  /// is fixed ("26 Jul 2024") in 3.1 and today's local date (strftime_now,
  /// "%d %b %Y") in 3.2, as transformers renders it.
  std::optional<std::string> date_string;
};

/// A recognised chat template, ready to render single-turn prompts.
class ChatTemplate {
 public:
  /// Reads `path` (a tokenizer_config.json, or a model directory holding one)
  /// and recognises its chat_template: a string, or a list of
  /// {"name", "template"} objects of which the one named "default" is used.
  /// When tokenizer_config.json has none, a chat_template.jinja or
  /// chat_template.json beside it is used (newer transformers save it there);
  /// when there is none at all, the family is plain.
  ///
  /// `family` is "auto" (recognise it) or a name that forces a family; a
  /// forced family ignores the file's template and uses the canonical layout
  /// that jinja_chat_template(family) writes (bos_token still comes from the
  /// file). Throws std::runtime_error naming the file when it is missing or
  /// not valid JSON, or when the template is not recognised (suggesting
  /// chat_template = "plain" or a forced family); never falls back silently.
  static ChatTemplate from_tokenizer_config(const std::filesystem::path& path, std::string_view family = "auto");
  /// The same for an already parsed tokenizer_config.json; `source` names it
  /// in errors.
  static ChatTemplate from_tokenizer_config(const nlohmann::json& config, const std::string& source,
                                            std::string_view family = "auto");
  /// The canonical layout of a family, the one jinja_chat_template(family)
  /// describes, with the given bos_token ("" for none).
  static ChatTemplate canonical(ChatFamily family, std::string bos_token = "");

  /// The prompt for one user message (see the file comment for the layouts).
  std::string render(std::string_view user_message, bool add_generation_prompt = true) const;
  std::string render(std::string_view user_message, const ChatOptions& options) const;

  ChatFamily family() const noexcept { return family_; }
  /// The text every render starts with ("" when the template writes no BOS).
  const std::string& bos_token() const noexcept { return bos_; }
  /// One line for logs, e.g. "chatml (default system prompt, enable_thinking switch)".
  std::string describe() const;

 private:
  explicit ChatTemplate(ChatFamily family) : family_(family) {}
  std::string render_llama3(std::string_view user, const ChatOptions& options) const;
  std::string render_chatml(std::string_view user, const ChatOptions& options) const;
  std::string render_plain(std::string_view user, const ChatOptions& options) const;
  std::string content(std::string_view text) const;

  ChatFamily family_;
  std::string bos_;                // written first ("" = none)
  bool trim_ = false;              // the template applies `| trim` to message contents
  std::string generation_prompt_;  // after the last message when add_generation_prompt
  // llama3 (3.1+): the system block's knowledge-cutoff line, "" when the
  // template has no such block (3.0); its date, fixed or from the clock.
  std::string knowledge_line_;
  std::string default_date_;
  std::string clock_date_format_;  // strftime format when the template prefers strftime_now
  // chatml
  std::optional<std::string> default_system_;
  std::string no_thinking_;  // appended when enable_thinking == false ("" = no switch)
};

/// A Jinja chat_template whose rendering equals ChatTemplate::canonical(family)
/// (for llama3 the Llama 3.0 layout), for the tokenizer_config.json of a model
/// directory this project writes: transformers and this renderer then produce
/// the same prompt, and from_tokenizer_config recognises it again.
std::string jinja_chat_template(ChatFamily family);

}  // namespace genius::llama
