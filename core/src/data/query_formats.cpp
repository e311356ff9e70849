#include "data/query_formats.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <genius/helpers/json_text.hpp>

#include "io/jsonl.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One record of a file, and where it is ("train.jsonl:3", "train.json: item 3").
struct Record {
  json value;
  std::string where;
  std::size_t number = 0;  ///< 1-based line or item
};

std::vector<Record> read_records(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw JsonlError("cannot read '" + file.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  const std::size_t first = content.find_first_not_of(" \t\r\n");
  std::vector<Record> records;
  if (first != std::string::npos && content[first] == '[') {  // a JSON array
    const json array = json_depth_problem(content).empty() ? json::parse(content, nullptr, /*allow_exceptions=*/false)
                                                           : json(json::value_t::discarded);
    if (!array.is_array())
      throw JsonlError(file.string() + ": starts with '[' but is not a valid JSON array of records");
    for (std::size_t i = 0; i < array.size(); ++i)
      records.push_back({array[i], file.string() + ": item " + std::to_string(i + 1), i + 1});
    return records;
  }
  const JsonlContents contents = read_jsonl(file);
  if (contents.torn_tail)
    throw JsonlError(file.string() + ":" + std::to_string(contents.lines.size() + 1) +
                     ": invalid JSON (truncated line)");
  for (const JsonlLine& line : contents.lines)
    records.push_back({line.value, file.string() + ":" + std::to_string(line.number), std::size_t(line.number)});
  return records;
}

const json* field(const json& record, const std::string& key) {
  const auto it = record.find(key);
  return it == record.end() ? nullptr : &*it;
}

bool is_string_field(const json& record, const std::string& key) {
  const json* f = field(record, key);
  return f && f->is_string();
}

// The layout of one record, or "" when none fits.
std::string detect(const json& r, const QueryFormat& f) {
  const json* conv = field(r, "conversations");
  const json* msgs = field(r, "messages");
  if (field(r, "uuid") && is_string_field(r, "instruction")) return "magpie";
  if (conv && conv->is_array()) return "sharegpt";
  if (msgs && msgs->is_array()) return "messages";
  if (is_string_field(r, "instruction") && field(r, f.input_key)) return "alpaca";
  for (const std::string& key :
       {f.prompt_key, std::string("prompt"), std::string("instruction"), std::string("query"), std::string("question")})
    if (is_string_field(r, key)) return "prompt";
  return "";
}

// A conversation as (role, text) turns: the last user turn is the query, the
// turns before it its context.
std::string from_turns(const json& turns, const char* role_key, const char* text_key, const std::string& where) {
  std::vector<std::pair<std::string, std::string>> parsed;
  for (std::size_t i = 0; i < turns.size(); ++i) {
    const json& t = turns[i];
    const json* role = t.is_object() ? field(t, role_key) : nullptr;
    const json* text = t.is_object() ? field(t, text_key) : nullptr;
    if (!role || !role->is_string() || !text || !text->is_string())
      throw JsonlError(where + ": turn " + std::to_string(i + 1) + " needs string '" + role_key + "' and '" + text_key +
                       "' fields");
    std::string r = role->get<std::string>();
    if (r == "human") r = "user";
    if (r == "gpt" || r == "model" || r == "bot") r = "assistant";
    parsed.emplace_back(r, text->get<std::string>());
  }
  std::optional<std::size_t> last_user;
  for (std::size_t i = 0; i < parsed.size(); ++i)
    if (parsed[i].first == "user") last_user = i;
  if (!last_user) throw JsonlError(where + ": the conversation has no user turn (the query)");
  std::string context;
  for (std::size_t i = 0; i < *last_user; ++i) {
    std::string role = parsed[i].first;
    role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
    context += role + ": " + parsed[i].second + "\n";
  }
  return context.empty() ? parsed[*last_user].second : context + "\n" + parsed[*last_user].second;
}

std::string query_text(const json& r, const std::string& layout, const QueryFormat& f, const std::string& where) {
  if (layout == "magpie") return r.at("instruction").get<std::string>();
  if (layout == "sharegpt") return from_turns(r.at("conversations"), "from", "value", where);
  if (layout == "messages") return from_turns(r.at("messages"), "role", "content", where);
  if (layout == "alpaca") {
    const json& input = r.at(f.input_key);
    if (!input.is_string()) throw JsonlError(where + ": field '" + f.input_key + "' must be a string");
    const std::string instruction = r.at("instruction").get<std::string>(), extra = input.get<std::string>();
    return extra.empty() ? instruction : instruction + "\n\n" + extra;
  }
  for (const std::string& key :
       {f.prompt_key, std::string("prompt"), std::string("instruction"), std::string("query"), std::string("question")})
    if (is_string_field(r, key)) return r.at(key).get<std::string>();
  return "";
}

std::string describe_layouts() {
  return "a prompt/instruction/query/question field, Alpaca's instruction + input, a messages list, ShareGPT "
         "conversations, or Magpie's uuid + instruction";
}

}  // namespace

const std::vector<std::string>& query_formats() {
  static const std::vector<std::string> f = {"auto", "prompt", "alpaca", "messages", "sharegpt", "magpie"};
  return f;
}

std::vector<Query> load_queries(const fs::path& file, const QueryFormat& format, std::size_t limit) {
  if (std::find(query_formats().begin(), query_formats().end(), format.format) == query_formats().end())
    throw JsonlError("[data] train_format '" + format.format +
                     "' is not one of auto, prompt, alpaca, messages, "
                     "sharegpt, magpie");
  std::vector<Query> queries;
  std::set<std::string> ids;
  std::string file_layout, first_where;
  for (const Record& rec : read_records(file)) {
    if (!rec.value.is_object()) throw JsonlError(rec.where + ": expected a JSON object");
    std::string layout = format.format == "auto" ? detect(rec.value, format) : format.format;
    if (layout.empty())
      throw JsonlError(rec.where + ": no query in this record (expected " + describe_layouts() +
                       "; [data] prompt_key '" + format.prompt_key + "' names another field)");
    // Alpaca records without an input are plain instructions: the same file layout.
    const std::string family = layout == "alpaca" ? "prompt" : layout;
    if (file_layout.empty()) {
      file_layout = family;
      first_where = rec.where;
    } else if (family != file_layout && format.format == "auto") {
      throw JsonlError(rec.where + ": a " + layout + " record, but " + first_where + " is a " + file_layout +
                       " record: one file holds one layout (or set [data] train_format)");
    }
    Query q;
    try {
      q.prompt = query_text(rec.value, layout, format, rec.where);
    } catch (const json::exception&) {
      throw JsonlError(rec.where + ": not a " + layout + " record (set by [data] train_format)");
    }
    if (q.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
      throw JsonlError(rec.where + ": the query is empty");
    if (q.prompt.size() > kMaxPromptBytes)
      throw JsonlError(rec.where + ": the query is " + std::to_string(q.prompt.size()) + " bytes, more than the " +
                       std::to_string(kMaxPromptBytes) + " a query may have");
    const json* id = field(rec.value, format.id_key);
    if (!id && layout == "magpie") id = field(rec.value, "uuid");
    if (id && !id->is_string() && !id->is_number_integer())
      throw JsonlError(rec.where + ": field '" +
                       (layout == "magpie" && !field(rec.value, format.id_key) ? std::string("uuid") : format.id_key) +
                       "' (the query's id) must be a string or an integer, got " + excerpt(id->dump(), 60));
    q.id = id ? (id->is_string() ? id->get<std::string>() : id->dump()) : "line-" + std::to_string(rec.number);
    if (!ids.insert(q.id).second) throw JsonlError(rec.where + ": duplicate query id '" + excerpt(q.id, 80) + "'");
    queries.push_back(std::move(q));
    if (limit > 0 && queries.size() == limit) break;
  }
  if (queries.empty()) throw JsonlError(file.string() + ": no queries (expected one JSON object per line)");
  return queries;
}

}  // namespace genius::core
