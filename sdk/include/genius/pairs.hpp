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

/// Which pool member becomes the rejected side of a step's pair.
enum class RejectedRule {
  Random,    ///< uniform over the rest of the pool (the paper's §3; may repeat the chosen text)
  Distinct,  ///< uniform over the members whose trajectory text differs from the chosen one
  Lowest,    ///< the lowest score among the members whose text differs (the last on ties)
};

/// For each step's pool of candidates (trajectories): chosen = the highest
/// score (the first one on ties), rejected by `rule` (default: one drawn
/// uniformly from the rest, as the paper); weights: A(chosen), A(rejected)
/// and the pool's mean A. Pools with fewer than 2 candidates give no pair;
/// with Distinct or Lowest, neither does a pool whose every member repeats
/// the chosen text (such a pair prefers a response to itself: DPO's gradient
/// is zero there, ACO's with f > 1 pushes that response down). Deterministic
/// for a given `seed`.
inline std::vector<PreferencePair> step_pairs(const ExplorationRecord& record, std::uint64_t seed,
                                              RejectedRule rule = RejectedRule::Random) {
  std::mt19937_64 rng(seed);
  // Uniform draws without std::uniform_int_distribution, whose output
  // differs between standard libraries: the same seed must give the same
  // pairs everywhere.
  auto draw = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::vector<PreferencePair> pairs;
  for (const StepRecord& step : record.steps) {
    const auto& pool = step.candidates;
    if (pool.size() < 2) continue;
    std::vector<std::size_t> order(pool.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return pool[a].score > pool[b].score; });
    const std::size_t chosen = order.front();
    std::size_t rejected = 0;
    if (rule == RejectedRule::Random) {
      rejected = order[1 + draw(pool.size() - 1)];
    } else {
      std::vector<std::size_t> others;  // best score first
      for (std::size_t i = 1; i < order.size(); ++i)
        if (pool[order[i]].trajectory != pool[chosen].trajectory) others.push_back(order[i]);
      if (others.empty()) continue;
      rejected = rule == RejectedRule::Lowest ? others.back() : others[draw(others.size())];
    }
    pairs.push_back(make_pair(record, step, chosen, rejected));
  }
  return pairs;
}

}  // namespace genius
