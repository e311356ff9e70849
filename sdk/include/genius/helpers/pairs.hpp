// genius/pairs.hpp — the paper's re-sampling of exploration records into
// preference pairs (algorithm.md §3), shared by the samplers.
#pragma once

#include <algorithm>
#include <cmath>
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
  Softmax,  ///< drawn from softmax(score / temperature) over the rest of the pool (the paper's Eq. 5)
  Random,   ///< drawn uniformly from the rest of the pool (the released code)
  Lowest,   ///< the lowest score of the rest of the pool (the last on ties)
};

/// How step_pairs() builds a step's pair.
struct PairRule {
  RejectedRule rejected = RejectedRule::Softmax;
  double temperature = 0.1;  ///< tau of the Softmax draw (the sampler's selection temperature);
                             ///< tau <= 0 (or not finite) takes its limit, the highest score
  /// Leave out of the rejected draw every member whose trajectory text equals
  /// the chosen one. Such a pair prefers a response to itself: no preference
  /// at all (DPO's gradient is zero there, ACO's pushes or pulls the response
  /// as a whole). With it, a pool whose every other member is a copy gives no
  /// pair.
  bool skip_copies = true;
};

/// For each step's pool of candidates (trajectories): chosen = the highest
/// score (the first one on ties), rejected by `rule` among the other members
/// (without the chosen one's copies when rule.skip_copies); weights: A(chosen),
/// A(rejected) and the pool's mean A. Pools with fewer than 2 candidates give
/// no pair. Deterministic for a given `seed`, on every standard library.
inline std::vector<PreferencePair> step_pairs(const ExplorationRecord& record, std::uint64_t seed,
                                              const PairRule& rule = {}) {
  std::mt19937_64 rng(seed);
  // Draws from rng() alone (no std:: distributions, whose output differs
  // between standard libraries): the same seed gives the same pairs everywhere.
  auto uniform01 = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  std::vector<PreferencePair> pairs;
  for (const StepRecord& step : record.steps) {
    const auto& pool = step.candidates;
    if (pool.size() < 2) continue;
    std::vector<std::size_t> order(pool.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return pool[a].score > pool[b].score; });
    const std::size_t chosen = order.front();
    std::vector<std::size_t> others;  // best score first
    for (std::size_t i = 1; i < order.size(); ++i)
      if (!rule.skip_copies || pool[order[i]].trajectory != pool[chosen].trajectory) others.push_back(order[i]);
    if (others.empty()) continue;
    std::size_t rejected = others.back();
    if (rule.rejected == RejectedRule::Random) {
      rejected = others[static_cast<std::size_t>(rng() % others.size())];
    } else if (rule.rejected == RejectedRule::Softmax && !(rule.temperature > 0 && std::isfinite(rule.temperature))) {
      rejected = others.front();  // the tau -> 0 limit of the draw: the best of the others
    } else if (rule.rejected == RejectedRule::Softmax) {
      // w_i = exp((f_i - f_max) / tau) over the others; u = uniform01 * sum(w);
      // the first member whose running sum exceeds u (others[0] holds f_max,
      // so the sum is at least 1 and never underflows).
      std::vector<double> weights;
      double total = 0;
      for (std::size_t i : others)
        total += weights.emplace_back(std::exp((pool[i].score - pool[others.front()].score) / rule.temperature));
      const double u = uniform01() * total;
      double running = 0;
      for (std::size_t k = 0; k < others.size(); ++k) {
        running += weights[k];
        if (u < running) {
          rejected = others[k];
          break;
        }
      }
    }
    pairs.push_back(make_pair(record, step, chosen, rejected));
  }
  return pairs;
}

}  // namespace genius
