// What a finished stage left on disk, recorded when it finished and checked
// when a run is continued: a stage whose files were truncated, edited or
// removed since is done again instead of being trusted.
//
//   state["files"]["pairs-1"] = fingerprint({dir / "iter-1/pairs.jsonl"}, dir);
//   if (auto why = fingerprint_mismatch(state["files"]["pairs-1"], dir)) ...  // "iter-1/pairs.jsonl: ..."
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace genius::core {

/// {"<path relative to root>": {"bytes": N, "crc32": C}} for every regular
/// file in `outputs` (directories are walked). Text files (.jsonl, .json,
/// .toml, .csv) get a CRC-32 of their bytes; others (weights, optimizer
/// states) their size alone, which catches a truncated copy. Missing outputs
/// are left out.
nlohmann::json fingerprint(const std::vector<std::filesystem::path>& outputs, const std::filesystem::path& root);

/// The first recorded file that is missing or differs now ("iter-1/pairs.jsonl:
/// 812 bytes now, 1209 when the stage finished"), or nullopt when all match.
std::optional<std::string> fingerprint_mismatch(const nlohmann::json& recorded, const std::filesystem::path& root);

}  // namespace genius::core
