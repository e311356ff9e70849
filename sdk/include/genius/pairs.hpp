// genius/pairs.hpp — the paper's re-sampling of exploration records into
// preference pairs (algorithm.md §3), shared by the samplers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <genius/types.hpp>

namespace genius {

/// The pair of `chosen` and `rejected` (indices into the step's pool) with
/// the §3 weights: A(chosen), A(rejected) and the mean A over the pool.
inline PreferencePair make_pair(const ExplorationRecord& record, const StepRecord& step, std::size_t chosen,
                                std::size_t rejected) {
  const auto& pool = step.candidates;
  double mean = 0;
  for (const Candidate& c : pool) mean += c.advantage;
  mean /= static_cast<double>(pool.size());
  PreferencePair p;
  p.query_id = record.query.id;
  p.step = step.step;
  p.prompt = record.query.prompt;
  p.chosen = pool[chosen].trajectory;
  p.rejected = pool[rejected].trajectory;
  p.chosen_weight = pool[chosen].advantage;
  p.rejected_weight = pool[rejected].advantage;
  p.chosen_average_weight = mean;
  return p;
}

/// For each step's pool of candidates (trajectories): chosen = the highest
/// score (the first one on ties), rejected = one drawn uniformly from the
/// rest; weights: A(chosen), A(rejected) and the pool's mean A. Pools with
/// fewer than 2 candidates give no pair. Deterministic for a given `seed`.
inline std::vector<PreferencePair> step_pairs(const ExplorationRecord& record, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<PreferencePair> pairs;
  for (const StepRecord& step : record.steps) {
    const auto& pool = step.candidates;
    if (pool.size() < 2) continue;
    std::vector<std::size_t> order(pool.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return pool[a].score > pool[b].score; });
    // Uniform over the rest without std::uniform_int_distribution, whose
    // output differs between standard libraries: the same seed must give the
    // same pairs everywhere.
    const std::size_t pick = 1 + static_cast<std::size_t>(rng() % (pool.size() - 1));
    PreferencePair p = make_pair(record, step, order.front(), order[pick]);
    pairs.push_back(std::move(p));
  }
  return pairs;
}

}  // namespace genius
