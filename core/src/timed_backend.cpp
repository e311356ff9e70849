#include "timed_backend.hpp"

namespace genius::core {

TimedBackend::TimedBackend(std::shared_ptr<ModelBackend> inner) : inner_(std::move(inner)) {
  detail::PluginAccess::set_name(*this, inner_->name());
}

std::vector<GenerationResult> TimedBackend::generate(const std::vector<GenerationRequest>& requests) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<GenerationResult> out = inner_->generate(requests);
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++calls_;
  for (const auto& r : out)
    for (const auto& s : r.samples) tokens_ += s.num_tokens();
  return out;
}

}  // namespace genius::core
