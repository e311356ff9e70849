#include "chat_template.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include <genius/helpers/json_text.hpp>

namespace genius::llama {
namespace {

namespace fs = std::filesystem;

const std::string kLlamaGenerationPrompt = "<|start_header_id|>assistant<|end_header_id|>\n\n";
const std::string kChatmlGenerationPrompt = "<|im_start|>assistant\n";
const std::string kEmptyThinking = "<think>\n\n</think>\n\n";

[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw std::runtime_error(source + ": " + message);
}

[[noreturn]] void unsupported(const std::string& source, ChatFamily family, const std::string& what) {
  fail(source, "chat_template looks like the " + std::string(to_string(family)) + " family but " + what +
                   "; this variant is not supported: set chat_template = \"" + std::string(to_string(family)) +
                   "\" in the model config to use the canonical " + std::string(to_string(family)) +
                   " layout, or \"plain\" to send the raw query text");
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// --- Jinja's `trim` filter as transformers runs it: Python's str.strip(),
// which removes the characters for which str.isspace() is true. (JavaScript's
// String.trim differs on U+001C..U+001F and U+0085, which it keeps, and on
// U+FEFF, which it removes.)
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point of the UTF-8 sequence at s[i] and its length; length 0 for
// a malformed sequence (which is then never whitespace).
std::pair<char32_t, std::size_t> decode_utf8(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const std::size_t n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return {0, 0};
  char32_t c = n == 1 ? b : b & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont & 0xC0) != 0x80) return {0, 0};
    c = (c << 6) | (cont & 0x3F);
  }
  return {c, n};
}

std::string_view python_strip(std::string_view s) {
  while (!s.empty()) {
    const auto [c, n] = decode_utf8(s, 0);
    if (n == 0 || !is_python_space(c)) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    std::size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const auto [c, n] = decode_utf8(s, start);
    if (n != s.size() - start || !is_python_space(c)) break;
    s.remove_suffix(n);
  }
  return s;
}

// --- Reading the template text ---

// The string literals of the template's {{ }} and {% %} tags, unescaped.
// Which literals a template contains is what tells the variants of a family
// apart (the generation prompt, a default system prompt, the cutoff line).
std::vector<std::string> string_literals(std::string_view tpl) {
  std::vector<std::string> literals;
  std::size_t i = 0;
  while ((i = tpl.find('{', i)) != std::string_view::npos && i + 1 < tpl.size()) {
    const char kind = tpl[i + 1];
    if (kind == '#') {  // comment
      i = tpl.find("#}", i + 2);
      if (i == std::string_view::npos) break;
      i += 2;
      continue;
    }
    if (kind != '{' && kind != '%') {
      ++i;
      continue;
    }
    const char close = kind == '{' ? '}' : '%';
    for (i += 2; i < tpl.size() && !(tpl[i] == close && i + 1 < tpl.size() && tpl[i + 1] == '}');) {
      const char quote = tpl[i];
      if (quote != '\'' && quote != '"') {
        ++i;
        continue;
      }
      std::string literal;
      for (++i; i < tpl.size() && tpl[i] != quote; ++i) {
        if (tpl[i] != '\\' || i + 1 == tpl.size()) {
          literal += tpl[i];
          continue;
        }
        // Python string escapes; the ones chat templates use.
        static constexpr std::string_view kEscaped = "ntr\\'\"", kMeaning = "\n\t\r\\'\"";
        const char e = tpl[++i];
        const std::size_t k = kEscaped.find(e);
        if (k == std::string_view::npos) literal += '\\';
        literal += k == std::string_view::npos ? e : kMeaning[k];
      }
      literals.push_back(std::move(literal));
      ++i;  // closing quote
    }
    i += 2;
  }
  return literals;
}

bool has_literal(const std::vector<std::string>& literals, std::string_view text) {
  return std::find(literals.begin(), literals.end(), text) != literals.end();
}

// The first capture of `pattern` in the template, or "".
std::string find_capture(const std::string& tpl, const char* pattern) {
  std::smatch m;
  return std::regex_search(tpl, m, std::regex(pattern)) ? m[2].str() : std::string();
}

// Whether message contents go through `| trim` or `.strip()`.
bool trims_content(const std::string& tpl) {
  static const std::regex trim(R"(content['"]?\]?\s*(\|\s*trim\b|\.strip\(\s*\)))");
  return std::regex_search(tpl, trim);
}

std::string jinja_source(std::string_view s) {
  return std::string(python_strip(s));
}

// --- tokenizer_config.json ---

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) fail(file.string(), "cannot open (is it a Hugging Face model directory with a tokenizer_config.json?)");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (const std::string deep = genius::json_depth_problem(text); !deep.empty())
    fail(file.string(), "invalid JSON: " + deep);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(file.string(), std::string("invalid JSON: ") + genius::json_error_text(e));
  }
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file.string(), "cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A special token as tokenizer_config.json writes it: a string, an AddedToken
// object {"content": ...}, or null / absent ("").
std::string token_text(const nlohmann::json& config, const std::string& source, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return "";
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  fail(source, std::string("'") + key + "' must be a string or an object with a \"content\" string");
}

// The chat_template text, nullopt when there is none.
std::optional<std::string> template_text(const nlohmann::json& config, const std::string& source) {
  if (!config.contains("chat_template") || config["chat_template"].is_null()) return std::nullopt;
  const auto& t = config["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (!t.is_array()) fail(source, "'chat_template' must be a string or a list of {\"name\", \"template\"} objects");
  std::string names;
  for (const auto& entry : t) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template") ||
        !entry["template"].is_string())
      fail(source, "'chat_template' list entries must be {\"name\": string, \"template\": string} objects");
    if (entry["name"] == "default") return entry["template"].get<std::string>();
    names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
  }
  fail(source, "'chat_template' is a list of named templates without one named \"default\" (it has: " + names + ")");
}

// strftime_now(format) as transformers defines it: Python's
// datetime.now().strftime, local time, the process's (C) locale.
std::string format_today(const std::string& format) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[128];
  return std::string(text, std::strftime(text, sizeof text, format.c_str(), &local));
}

}  // namespace

std::string_view to_string(ChatFamily family) {
  switch (family) {
    case ChatFamily::Llama3:
      return "llama3";
    case ChatFamily::ChatML:
      return "chatml";
    case ChatFamily::Plain:
      return "plain";
  }
  return "?";
}

std::optional<ChatFamily> parse_chat_family(std::string_view name) {
  if (name == "auto") return std::nullopt;
  for (auto family : {ChatFamily::Llama3, ChatFamily::ChatML, ChatFamily::Plain})
    if (name == to_string(family)) return family;
  throw std::invalid_argument("unknown chat template family '" + std::string(name) +
                              "' (expected \"auto\", \"llama3\", \"chatml\" or \"plain\")");
}

ChatTemplate ChatTemplate::canonical(ChatFamily family, std::string bos_token) {
  ChatTemplate t(family);
  switch (family) {
    case ChatFamily::Llama3:
      t.bos_ = std::move(bos_token);
      t.trim_ = true;
      t.generation_prompt_ = kLlamaGenerationPrompt;
      break;
    case ChatFamily::ChatML:
      t.generation_prompt_ = kChatmlGenerationPrompt;
      break;
    case ChatFamily::Plain:
      t.bos_ = std::move(bos_token);
      t.generation_prompt_ = "\n";
      break;
  }
  return t;
}

ChatTemplate ChatTemplate::from_tokenizer_config(const fs::path& path, std::string_view family) {
  const fs::path file = fs::is_directory(path) ? path / "tokenizer_config.json" : path;
  nlohmann::json config = read_json(file);
  std::string source = file.string();
  // Newer transformers save the template beside tokenizer_config.json.
  if (config.is_object() && (!config.contains("chat_template") || config["chat_template"].is_null())) {
    const fs::path jinja = file.parent_path() / "chat_template.jinja";
    const fs::path json = file.parent_path() / "chat_template.json";
    if (fs::exists(jinja)) {
      config["chat_template"] = read_text(jinja);
      source = jinja.string();
    } else if (fs::exists(json)) {
      const nlohmann::json separate = read_json(json);
      if (!separate.is_object() || !separate.contains("chat_template"))
        fail(json.string(), "expected an object with a 'chat_template' key");
      config["chat_template"] = separate["chat_template"];
      source = json.string();
    }
  }
  return from_tokenizer_config(config, source, family);
}

ChatTemplate ChatTemplate::from_tokenizer_config(const nlohmann::json& config, const std::string& source,
                                                 std::string_view family) {
  if (!config.is_object()) fail(source, "expected a JSON object");
  std::optional<ChatFamily> forced;
  try {
    forced = parse_chat_family(family);
  } catch (const std::invalid_argument& e) {
    fail(source, e.what());
  }
  const std::string bos = token_text(config, source, "bos_token");
  if (forced) return canonical(*forced, bos);

  const std::optional<std::string> tpl = template_text(config, source);
  if (!tpl || jinja_source(*tpl) == jinja_source(jinja_chat_template(ChatFamily::Plain)))
    return canonical(ChatFamily::Plain, bos);

  const std::vector<std::string> literals = string_literals(*tpl);
  if (contains(*tpl, "<|start_header_id|>") && contains(*tpl, "<|eot_id|>")) {
    ChatTemplate t(ChatFamily::Llama3);
    if (contains(*tpl, "bos_token")) t.bos_ = bos;
    t.trim_ = trims_content(*tpl);
    if (!has_literal(literals, kLlamaGenerationPrompt))
      unsupported(source, t.family_, "it has no '<|start_header_id|>assistant<|end_header_id|>\\n\\n' literal");
    t.generation_prompt_ = kLlamaGenerationPrompt;
    // Llama 3.1+: an always-present system block with the knowledge cutoff and the date.
    const auto cutoff = std::find_if(literals.begin(), literals.end(),
                                     [](const std::string& l) { return starts_with(l, "Cutting Knowledge Date:"); });
    if (cutoff != literals.end()) {
      t.knowledge_line_ = *cutoff;
      if (!has_literal(literals, "Today Date: ")) unsupported(source, t.family_, "it has no 'Today Date: ' line");
      t.default_date_ = find_capture(*tpl, R"(set\s+date_string\s*=\s*(["'])([^"']*)\1)");
      t.clock_date_format_ = find_capture(*tpl, R"(strftime_now\(\s*(["'])([^"']*)\1\s*\))");
      if (t.default_date_.empty() && t.clock_date_format_.empty())
        unsupported(source, t.family_, "it sets no default date_string");
    }
    return t;
  }
  if (contains(*tpl, "<|im_start|>") && contains(*tpl, "<|im_end|>")) {
    ChatTemplate t(ChatFamily::ChatML);
    if (contains(*tpl, "bos_token")) t.bos_ = bos;
    t.trim_ = trims_content(*tpl);
    std::vector<std::string> prompts;  // distinct literals that open the assistant turn
    for (const auto& l : literals)
      if (starts_with(l, kChatmlGenerationPrompt) && !has_literal(prompts, l)) prompts.push_back(l);
    if (prompts.size() != 1)
      unsupported(source, t.family_,
                  prompts.empty() ? "it has no '<|im_start|>assistant\\n' literal"
                                  : "it has several literals that open the assistant turn");
    t.generation_prompt_ = prompts.front();
    // Qwen2 / 2.5, SmolLM2: a system turn spelled out in one literal is the default system prompt.
    const std::string open = "<|im_start|>system\n", close = "<|im_end|>\n";
    for (const auto& l : literals)
      if (l.size() > open.size() + close.size() && starts_with(l, open) && ends_with(l, close))
        t.default_system_ = l.substr(open.size(), l.size() - open.size() - close.size());
    // Qwen3: enable_thinking = false pre-fills an empty thinking block.
    if (contains(*tpl, "enable_thinking") && has_literal(literals, kEmptyThinking)) t.no_thinking_ = kEmptyThinking;
    return t;
  }
  fail(source,
       "chat_template not recognised: it is neither the llama3 family (<|start_header_id|> ... <|eot_id|>) nor the "
       "chatml family (<|im_start|> ... <|im_end|>). Set chat_template = \"plain\" in the model config to send the raw "
       "query text, or force a family with chat_template = \"llama3\" or \"chatml\"");
}

std::string ChatTemplate::render(std::string_view user_message, bool add_generation_prompt) const {
  ChatOptions options;
  options.add_generation_prompt = add_generation_prompt;
  return render(user_message, options);
}

std::string ChatTemplate::render(std::string_view user_message, const ChatOptions& options) const {
  switch (family_) {
    case ChatFamily::Llama3:
      return render_llama3(user_message, options);
    case ChatFamily::ChatML:
      return render_chatml(user_message, options);
    case ChatFamily::Plain:
      return render_plain(user_message, options);
  }
  return {};
}

std::string ChatTemplate::content(std::string_view text) const {
  return std::string(trim_ ? python_strip(text) : text);
}

std::string ChatTemplate::render_llama3(std::string_view user, const ChatOptions& options) const {
  std::string out = bos_;
  if (!knowledge_line_.empty() || options.system_message) {
    out += "<|start_header_id|>system<|end_header_id|>\n\n";
    if (!knowledge_line_.empty()) {
      const std::string date = options.date_string          ? *options.date_string
                               : clock_date_format_.empty() ? default_date_
                                                            : format_today(clock_date_format_);
      out += knowledge_line_ + "Today Date: " + date + "\n\n";
    }
    out += content(options.system_message.value_or(""));
    out += "<|eot_id|>";
  }
  out += "<|start_header_id|>user<|end_header_id|>\n\n" + content(user) + "<|eot_id|>";
  if (options.add_generation_prompt) out += generation_prompt_;
  return out;
}

std::string ChatTemplate::render_chatml(std::string_view user, const ChatOptions& options) const {
  std::string out = bos_;
  if (options.system_message)
    out += "<|im_start|>system\n" + content(*options.system_message) + "<|im_end|>\n";
  else if (default_system_)
    out += "<|im_start|>system\n" + *default_system_ + "<|im_end|>\n";
  out += "<|im_start|>user\n" + content(user) + "<|im_end|>\n";
  if (options.add_generation_prompt) {
    out += generation_prompt_;
    if (options.enable_thinking.has_value() && !*options.enable_thinking) out += no_thinking_;
  }
  return out;
}

std::string ChatTemplate::render_plain(std::string_view user, const ChatOptions& options) const {
  std::string out = bos_;
  if (options.system_message) out += *options.system_message + "\n";
  out += user;
  if (options.add_generation_prompt) out += generation_prompt_;
  return out;
}

std::string ChatTemplate::describe() const {
  std::vector<std::string> notes;
  if (!bos_.empty()) notes.push_back("starts with " + bos_);
  if (!knowledge_line_.empty())
    notes.push_back("system block with date " + (clock_date_format_.empty() ? default_date_ : "of today"));
  if (default_system_) notes.push_back("default system prompt");
  if (!no_thinking_.empty()) notes.push_back("enable_thinking switch");
  if (family_ == ChatFamily::ChatML && generation_prompt_ != kChatmlGenerationPrompt)
    notes.push_back("generation prompt opens <think>");
  std::string out(to_string(family_));
  for (std::size_t i = 0; i < notes.size(); ++i) out += (i == 0 ? " (" : ", ") + notes[i];
  return notes.empty() ? out : out + ")";
}

std::string jinja_chat_template(ChatFamily family) {
  switch (family) {
    case ChatFamily::Llama3:
      return "{{- bos_token }}\n"
             "{%- for message in messages %}\n"
             "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
             " + '<|eot_id|>' }}\n"
             "{%- endfor %}\n"
             "{%- if add_generation_prompt %}\n"
             "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
             "{%- endif %}\n";
    case ChatFamily::ChatML:
      return "{%- for message in messages %}\n"
             "    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}\n"
             "{%- endfor %}\n"
             "{%- if add_generation_prompt %}\n"
             "    {{- '<|im_start|>assistant\\n' }}\n"
             "{%- endif %}\n";
    case ChatFamily::Plain:
      return "{%- if bos_token %}\n"
             "    {{- bos_token }}\n"
             "{%- endif %}\n"
             "{%- for message in messages %}\n"
             "    {{- message['content'] }}\n"
             "    {%- if not loop.last %}\n"
             "        {{- '\\n' }}\n"
             "    {%- endif %}\n"
             "{%- endfor %}\n"
             "{%- if add_generation_prompt %}\n"
             "    {{- '\\n' }}\n"
             "{%- endif %}\n";
  }
  return {};
}

}  // namespace genius::llama
