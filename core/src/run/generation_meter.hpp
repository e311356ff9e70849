// A stage's generation accounting: what a model generated between the
// meter's construction and now, from the host's counters (CheckedBackend:
// calls, prompt tokens, generated tokens) and, when the backend counts, from
// its own GenerationStats (ModelBackend::generation_stats: prefill tokens
// computed and reused from a prefix cache, decode steps and rows, key/value
// memory). The run's explore stage records it as "generation" (docs/run-directory.md)
// and `genius bench explore` compares prefix cache on and off with it.
//
//   GenerationMeter meter(policy);
//   ... explore ...
//   info["generation"] = meter.info();
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include <genius/types.hpp>

#include "plugins/checked_backend.hpp"

namespace genius::core {

/// What one model generated over a stretch of time.
struct GenerationDelta {
  std::int64_t calls = 0;             ///< generate calls (host-counted)
  std::int64_t prompt_tokens = 0;     ///< prompt tokens handed to generate (host-counted)
  std::int64_t generated_tokens = 0;  ///< the backend's count when it reports, else the host's
  /// The backend's counters over the stretch (kv_bytes, prefix_cache_bytes and
  /// kv_bytes_peak as they are at its end: the peak is the backend's all-time
  /// peak); nullopt when the backend does not count.
  std::optional<GenerationStats> stats;

  /// prompt_tokens_reused / (computed + reused), 0 when no prompt was prefilled.
  double prefix_cache_hit_rate() const;
  /// decode_rows / decode_steps: the sequences one decode pass held on average.
  double avg_live_rows() const;
  /// kv_bytes_peak in MiB.
  double kv_peak_mib() const;
};

class GenerationMeter {
 public:
  /// Takes the snapshot the delta is measured from (the backend's host
  /// counters must not be reset while the meter is in use).
  explicit GenerationMeter(const CheckedBackend& backend);

  GenerationDelta delta() const;
  /// The "generation" object of a stage's info: calls, prompt_tokens,
  /// generated_tokens and "reported"; when the backend reports, also
  /// prompt_tokens_computed, prompt_tokens_reused, prefix_cache_hit_rate,
  /// decode_steps, avg_live_rows, kv_peak_mib, prefix_cache_evicted_tokens.
  nlohmann::json info() const { return to_json(delta()); }

  static nlohmann::json to_json(const GenerationDelta& delta);

 private:
  const CheckedBackend& backend_;
  std::int64_t calls_, prompt_tokens_, generated_tokens_;
  std::optional<GenerationStats> stats_;
};

}  // namespace genius::core
