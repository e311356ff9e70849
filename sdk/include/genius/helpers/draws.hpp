// genius/helpers/draws.hpp — weighted draws without replacement, the selection
// step of the foresight samplers (`foresight`, `phi-decoding`, `critique-refine`).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <genius/helpers/seeds.hpp>

namespace genius::samplers {

/// w_i = exp((key_i - max key) / tau) = softmax(key / tau) up to its sum.
inline std::vector<double> softmax_weights(const std::vector<double>& keys, double tau) {
  std::vector<double> w(keys.size(), 1.0);
  if (keys.empty()) return w;
  const double top = *std::max_element(keys.begin(), keys.end());
  for (std::size_t i = 0; i < keys.size(); ++i) w[i] = std::exp((keys[i] - top) / tau);
  return w;
}

/// `count` distinct indices (at most weights.size()), one draw at a time, as
/// numpy's choice(replace=False) does: each draw takes u = uniform01(rng) *
/// (sum of the remaining weights) and picks the first remaining index whose
/// running weight sum exceeds u. When every remaining weight has underflowed
/// to 0 it takes the remaining index with the highest `keys` entry (the
/// tau -> 0 limit of a softmax draw; the first on ties), consuming no number.
inline std::vector<int> draw_without_replacement(const std::vector<double>& weights, const std::vector<double>& keys,
                                                 std::size_t count, std::mt19937_64& rng) {
  const std::size_t n = weights.size();
  count = std::min(count, n);
  std::vector<int> chosen;
  std::vector<bool> taken(n, false);
  while (chosen.size() < count) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (!taken[i]) total += weights[i];
    int pick = -1;
    if (total > 0) {
      const double u = uniform01(rng) * total;
      double running = 0;
      for (std::size_t i = 0; i < n && pick < 0; ++i) {
        if (taken[i] || weights[i] <= 0) continue;
        running += weights[i];
        if (u < running) pick = static_cast<int>(i);
      }
      if (pick < 0)  // u rounded up to the total: the last remaining index with weight
        for (std::size_t i = n; i-- > 0 && pick < 0;)
          if (!taken[i] && weights[i] > 0) pick = static_cast<int>(i);
    } else {
      for (std::size_t i = 0; i < n; ++i)
        if (!taken[i] && (pick < 0 || keys[i] > keys[static_cast<std::size_t>(pick)])) pick = static_cast<int>(i);
    }
    taken[static_cast<std::size_t>(pick)] = true;
    chosen.push_back(pick);
  }
  return chosen;
}

}  // namespace genius::samplers
