#include "io/records_io.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>

#include <genius/helpers/json_text.hpp>

#include "io/jsonl.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json to_json(const Candidate& c) {
  return {{"parent_beam", c.parent_beam},
          {"beam_logprob", c.beam_logprob},
          {"beam_tokens", c.beam_tokens},
          {"step", c.step},
          {"step_logprob", c.step_logprob},
          {"step_tokens", c.step_tokens},
          {"rollout", c.rollout},
          {"rollout_logprob", c.rollout_logprob},
          {"rollout_tokens", c.rollout_tokens},
          {"trajectory", c.trajectory},
          {"answer", c.answer},
          {"score", c.score},
          {"advantage", c.advantage},
          {"complete", c.complete}};
}

template <class T>
T field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw JsonlError(where + ": missing field '" + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw JsonlError(where + ": field '" + key + "' has the wrong type (" + j.at(key).dump().substr(0, 80) + ")");
  }
}

// A field that must be a list of JSON objects (steps, candidates).
json object_list(const json& j, const char* key, const std::string& where) {
  json list = field<json>(j, key, where);
  if (!list.is_array())
    throw JsonlError(where + ": field '" + key + "' must be a list (got " + excerpt(list.dump(), 80) + ")");
  for (const json& item : list)
    if (!item.is_object())
      throw JsonlError(where + ": field '" + key + "' must hold JSON objects (got " + excerpt(item.dump(), 80) + ")");
  return list;
}

template <class T>
T field_or(const json& j, const char* key, T fallback, const std::string& where) {
  return j.contains(key) ? field<T>(j, key, where) : fallback;
}

Candidate candidate_from_json(const json& j, const std::string& where) {
  Candidate c;
  c.parent_beam = field<int>(j, "parent_beam", where);
  c.beam_logprob = field_or<double>(j, "beam_logprob", 0.0, where);
  c.beam_tokens = field_or<int>(j, "beam_tokens", 0, where);
  c.step = field<std::string>(j, "step", where);
  c.step_logprob = field<double>(j, "step_logprob", where);
  c.step_tokens = field<int>(j, "step_tokens", where);
  c.rollout = field_or<std::string>(j, "rollout", "", where);
  c.rollout_logprob = field_or<double>(j, "rollout_logprob", 0.0, where);
  c.rollout_tokens = field_or<int>(j, "rollout_tokens", 0, where);
  c.trajectory = field<std::string>(j, "trajectory", where);
  c.answer = field_or<std::string>(j, "answer", "", where);
  c.score = field<double>(j, "score", where);
  c.advantage = field<double>(j, "advantage", where);
  c.complete = field_or<bool>(j, "complete", false, where);
  return c;
}

// A message list [{"role":..., "content": X}] or a plain string -> X.
std::string message_content(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw JsonlError(where + ": missing field '" + key + "'");
  const json& v = j.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && !v.empty() && v.back().is_object() && v.back().contains("content") &&
      v.back().at("content").is_string())
    return v.back().at("content").get<std::string>();
  throw JsonlError(where + ": field '" + std::string(key) +
                   "' must be a string or a list of chat messages with \"content\"");
}

}  // namespace

json to_json(const ExplorationRecord& r) {
  json steps = json::array();
  for (const StepRecord& s : r.steps) {
    json candidates = json::array();
    for (const Candidate& c : s.candidates) candidates.push_back(to_json(c));
    steps.push_back({{"step", s.step},
                     {"beams", s.beams},
                     {"beam_values", s.beam_values},
                     {"candidates", candidates},
                     {"selected", s.selected},
                     {"foresight_skipped", s.foresight_skipped}});
  }
  return {{"query_id", r.query.id}, {"prompt", r.query.prompt}, {"seed", r.query.seed},
          {"steps", steps},         {"response", r.response},   {"generated_tokens", r.generated_tokens}};
}

ExplorationRecord record_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw JsonlError(where + ": expected a JSON object");
  ExplorationRecord r;
  r.query.id = field<std::string>(j, "query_id", where);
  r.query.prompt = field<std::string>(j, "prompt", where);
  r.query.seed = field_or<std::uint64_t>(j, "seed", 0, where);
  r.response = field_or<std::string>(j, "response", "", where);
  r.generated_tokens = field_or<std::int64_t>(j, "generated_tokens", 0, where);
  for (const json& s : object_list(j, "steps", where)) {
    StepRecord step;
    step.step = field<int>(s, "step", where);
    step.beams = field_or<std::vector<std::string>>(s, "beams", {}, where);
    step.beam_values = field_or<std::vector<double>>(s, "beam_values", {}, where);
    step.selected = field_or<std::vector<int>>(s, "selected", {}, where);
    step.foresight_skipped = field_or<bool>(s, "foresight_skipped", false, where);
    for (const json& c : object_list(s, "candidates", where)) step.candidates.push_back(candidate_from_json(c, where));
    r.steps.push_back(std::move(step));
  }
  return r;
}

json to_json(const PreferencePair& p) {
  return {{"prompt", json::array({{{"role", "user"}, {"content", p.prompt}}})},
          {"chosen", json::array({{{"role", "assistant"}, {"content", p.chosen}}})},
          {"rejected", json::array({{{"role", "assistant"}, {"content", p.rejected}}})},
          {"chosen_weights", p.chosen_weight},
          {"rejected_weights", p.rejected_weight},
          {"chosen_average_weights", p.chosen_average_weight},
          {"query_id", p.query_id},
          {"step", p.step}};
}

PreferencePair pair_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw JsonlError(where + ": expected a JSON object");
  PreferencePair p;
  p.prompt = message_content(j, "prompt", where);
  p.chosen = message_content(j, "chosen", where);
  p.rejected = message_content(j, "rejected", where);
  p.chosen_weight = field_or<double>(j, "chosen_weights", 0.0, where);
  p.rejected_weight = field_or<double>(j, "rejected_weights", 0.0, where);
  p.chosen_average_weight = field_or<double>(j, "chosen_average_weights", 0.0, where);
  p.query_id = field_or<std::string>(j, "query_id", "", where);
  p.step = field_or<int>(j, "step", 0, where);
  return p;
}

std::vector<Query> load_queries(const fs::path& file, const std::string& prompt_key, std::size_t limit) {
  const JsonlContents contents = read_jsonl(file);
  if (contents.torn_tail)
    throw JsonlError(file.string() + ":" + std::to_string(contents.lines.size() + 1) +
                     ": invalid JSON (truncated line)");
  std::vector<Query> queries;
  std::set<std::string> ids;
  for (const JsonlLine& line : contents.lines) {
    const std::string where = file.string() + ":" + std::to_string(line.number);
    if (!line.value.is_object()) throw JsonlError(where + ": expected a JSON object");
    if (!line.value.contains(prompt_key))
      throw JsonlError(where + ": missing field '" + prompt_key + "' (the query text; see [data] prompt_key)");
    if (!line.value.at(prompt_key).is_string())
      throw JsonlError(where + ": field '" + prompt_key + "' must be a string");
    Query q;
    q.prompt = line.value.at(prompt_key).get<std::string>();
    if (line.value.contains("id")) {
      const json& id = line.value.at("id");
      q.id = id.is_string() ? id.get<std::string>() : id.dump();
    } else {
      q.id = "line-" + std::to_string(line.number);
    }
    if (!ids.insert(q.id).second) throw JsonlError(where + ": duplicate query id '" + q.id + "'");
    queries.push_back(std::move(q));
    if (limit > 0 && queries.size() == limit) break;
  }
  if (queries.empty()) throw JsonlError(file.string() + ": no queries (expected one JSON object per line)");
  return queries;
}

std::vector<std::size_t> random_subset(std::size_t n, std::size_t k, std::uint64_t seed) {
  std::vector<std::size_t> index(n);
  std::iota(index.begin(), index.end(), std::size_t{0});
  if (k == 0 || k >= n) return index;
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < k; ++i) std::swap(index[i], index[i + static_cast<std::size_t>(rng() % (n - i))]);
  index.resize(k);
  std::sort(index.begin(), index.end());
  return index;
}

std::vector<PreferencePair> load_pairs(const fs::path& file) {
  const JsonlContents contents = read_jsonl(file);
  std::vector<PreferencePair> pairs;
  for (const JsonlLine& line : contents.lines)
    pairs.push_back(pair_from_json(line.value, file.string() + ":" + std::to_string(line.number)));
  return pairs;
}

std::uint64_t query_seed(std::uint64_t run_seed, int iteration, const std::string& id) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  std::uint64_t z = h ^ (run_seed * 0x9E3779B97F4A7C15ULL) ^ (static_cast<std::uint64_t>(iteration) << 32);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;  // splitmix64 finaliser
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace genius::core
