// The query files `[data] train` reads (docs/data.md): JSONL or a JSON array
// of records, each in one of the layouts instruction datasets ship in:
//
//   prompt     {"prompt": "..."} (or "instruction", "query", "question", or [data] prompt_key)
//   alpaca     {"instruction": "...", "input": "...", "output": "..."}: instruction + input
//   messages   {"messages": [{"role": "user", "content": "..."}, ...]}: the last user turn
//   sharegpt   {"conversations": [{"from": "human", "value": "..."}, ...]} (OpenHermes-2.5)
//   magpie     {"uuid": "...", "instruction": "...", "response": "...", "conversations": [...]}
//
// In a conversation the last user turn is the query and the turns before it
// (a system prompt included) are its context, written above it as
// "System: ...", "User: ...", "Assistant: ..." lines. The layout is detected
// per record (or fixed by [data] train_format); a file whose records use
// different layouts, or a record with no usable query, is an error naming
// the file and line (or item, in a JSON array).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <genius/types.hpp>

namespace genius::core {

/// The longest query (or evaluation prompt) a file may hold: 4 MiB of text,
/// beyond the context of any model; a longer one is refused by file and line.
inline constexpr std::size_t kMaxPromptBytes = std::size_t{4} << 20;

struct QueryFormat {
  std::string format = "auto";             ///< auto | prompt | alpaca | messages | sharegpt | magpie
  std::string prompt_key = "instruction";  ///< the query field of `prompt` records, tried first
  std::string input_key = "input";         ///< alpaca's input field
  std::string id_key = "id";               ///< the record's id (magpie: uuid); else "line-N"
};

/// The queries of `file` (at most `limit`; 0 = all), ids unique. Throws
/// JsonlError naming the file and line for a bad record, a duplicate id,
/// mixed layouts, or a file without queries.
std::vector<Query> load_queries(const std::filesystem::path& file, const QueryFormat& format, std::size_t limit);

/// The layouts `format` may name.
const std::vector<std::string>& query_formats();

}  // namespace genius::core
