#include "run/generation_meter.hpp"

namespace genius::core {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// after - before, counter by counter; the "now" and peak fields as they are after.
GenerationStats difference(const GenerationStats& after, const GenerationStats& before) {
  GenerationStats d = after;
  d.calls -= before.calls;
  d.requests -= before.requests;
  d.prefills -= before.prefills;
  d.prompt_tokens_computed -= before.prompt_tokens_computed;
  d.prompt_tokens_reused -= before.prompt_tokens_reused;
  d.generated_tokens -= before.generated_tokens;
  d.decode_steps -= before.decode_steps;
  d.decode_rows -= before.decode_rows;
  d.prefix_cache_evicted_tokens -= before.prefix_cache_evicted_tokens;
  return d;
}

}  // namespace

double GenerationDelta::prefix_cache_hit_rate() const {
  if (!stats) return 0;
  const std::int64_t prefilled = stats->prompt_tokens_computed + stats->prompt_tokens_reused;
  return prefilled > 0 ? double(stats->prompt_tokens_reused) / double(prefilled) : 0.0;
}

double GenerationDelta::avg_live_rows() const {
  return stats && stats->decode_steps > 0 ? double(stats->decode_rows) / double(stats->decode_steps) : 0.0;
}

double GenerationDelta::kv_peak_mib() const {
  return stats ? double(stats->kv_bytes_peak) / kMiB : 0.0;
}

GenerationMeter::GenerationMeter(const CheckedBackend& backend)
    : backend_(backend),
      calls_(backend.generate_calls()),
      prompt_tokens_(backend.prompt_tokens()),
      generated_tokens_(backend.generated_tokens()),
      stats_(backend.generation_stats()) {}

GenerationDelta GenerationMeter::delta() const {
  GenerationDelta d;
  d.calls = backend_.generate_calls() - calls_;
  d.prompt_tokens = backend_.prompt_tokens() - prompt_tokens_;
  d.generated_tokens = backend_.generated_tokens() - generated_tokens_;
  if (const std::optional<GenerationStats> now = backend_.generation_stats()) {
    d.stats = difference(*now, stats_.value_or(GenerationStats{}));
    d.generated_tokens = d.stats->generated_tokens;
  }
  return d;
}

nlohmann::json GenerationMeter::to_json(const GenerationDelta& d) {
  nlohmann::json j = {{"reported", d.stats.has_value()},
                      {"calls", d.calls},
                      {"prompt_tokens", d.prompt_tokens},
                      {"generated_tokens", d.generated_tokens}};
  if (!d.stats) return j;
  const GenerationStats& s = *d.stats;
  j["prompt_tokens_computed"] = s.prompt_tokens_computed;
  j["prompt_tokens_reused"] = s.prompt_tokens_reused;
  j["prefix_cache_hit_rate"] = d.prefix_cache_hit_rate();
  j["decode_steps"] = s.decode_steps;
  j["avg_live_rows"] = d.avg_live_rows();
  j["kv_peak_mib"] = d.kv_peak_mib();
  j["prefix_cache_evicted_tokens"] = s.prefix_cache_evicted_tokens;
  return j;
}

}  // namespace genius::core
