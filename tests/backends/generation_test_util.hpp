// Requests and a text decoder for the generation engine's tests.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "generation.hpp"

namespace genius::llama::test {

// A decode for tests: token id -> one character; id 10 is a newline.
inline std::string decode(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId t : ids) s += t == 10 ? '\n' : char('a' + t % 26);
  return s;
}

inline GenerationOptions options(std::set<TokenId> eos = {}, std::int64_t max_batch_rows = 0) {
  GenerationOptions o;
  o.eos_ids = std::move(eos);
  o.decode = decode;
  o.max_batch_rows = max_batch_rows;
  return o;
}

inline GenerationRequest request(std::vector<TokenId> prompt, int n, double temperature, int max_new,
                                 std::uint64_t seed = 1) {
  GenerationRequest r;
  r.prompt_ids = std::move(prompt);
  r.n = n;
  r.temperature = temperature;
  r.max_new_tokens = max_new;
  r.seed = seed;
  return r;
}

}  // namespace genius::llama::test
