// genius/helpers/seeds.hpp — seeds of the samplers: every random choice of a query's exploration comes
// from Query::seed through this derivation, so a query's record does not
// depend on which other queries share its explore() call (docs/samplers.md).
#pragma once

#include <cstdint>
#include <initializer_list>

namespace genius::samplers {

/// child(seed, i) = splitmix64_finalise(seed + 0x9E3779B97F4A7C15 * (i + 1)),
/// the rule the torch-llama backend uses for its per-sample seeds: a cheap,
/// well-mixed function that is the same on every platform.
inline std::uint64_t child_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// derive(seed, {a, b, c}) = child(child(child(seed, a), b), c).
inline std::uint64_t derive_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> path) {
  for (std::uint64_t index : path) seed = child_seed(seed, index);
  return seed;
}

/// A double in [0, 1) from the top 53 bits of one 64-bit draw. Written out
/// because std::uniform_real_distribution differs between standard libraries.
template <class Rng>
double uniform01(Rng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace genius::samplers
