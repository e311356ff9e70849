// The run's data files as JSON: queries in, exploration records and
// preference pairs out.
//
// pairs.jsonl follows the Genius reference format, which is also TRL's
// conversational preference format:
//   {"prompt": [{"role": "user", "content": Q}],
//    "chosen": [{"role": "assistant", "content": A}], "rejected": [...],
//    "chosen_weights": w, "rejected_weights": w, "chosen_average_weights": w,
//    "query_id": "...", "step": t}
// Reading also accepts a plain-string prompt / chosen / rejected, as files
// from the reference code may have.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <genius/types.hpp>

namespace genius::core {

nlohmann::json to_json(const ExplorationRecord& record);
ExplorationRecord record_from_json(const nlohmann::json& j, const std::string& where);

nlohmann::json to_json(const PreferencePair& pair);
PreferencePair pair_from_json(const nlohmann::json& j, const std::string& where);

/// Unlabeled queries from a JSONL file: the text under `prompt_key`, the id
/// under "id" when present (else "line-N"). Other fields — answers included —
/// are never read. Errors name file:line; duplicate ids and an empty file are
/// errors. `limit` > 0 keeps the first `limit` queries.
std::vector<Query> load_queries(const std::filesystem::path& file, const std::string& prompt_key, std::size_t limit);

/// `k` of the indices 0..n-1 drawn uniformly without replacement (a partial
/// Fisher-Yates shuffle on mt19937_64 seeded with `seed`, the same on every
/// standard library), returned in increasing order; all n when k = 0 or k >= n.
std::vector<std::size_t> random_subset(std::size_t n, std::size_t k, std::uint64_t seed);

std::vector<PreferencePair> load_pairs(const std::filesystem::path& file);

/// A stable 64-bit seed for (run seed, iteration, query id): FNV-1a of the id
/// mixed with splitmix64, identical on every platform.
std::uint64_t query_seed(std::uint64_t run_seed, int iteration, const std::string& id);

/// The seed a query's pairs are drawn with (Sampler::make_pairs): its
/// exploration seed with a fixed salt, so the draws differ from the
/// exploration's. The run's pairs stage and the audit use the same rule.
inline std::uint64_t pair_seed(std::uint64_t query_seed) {
  return query_seed ^ 0x5041495253ULL;
}

}  // namespace genius::core
