// The host's side of every ValueEstimator call: the sampler calls this
// wrapper, which checks the candidates going in, forwards to the plugin,
// checks the scores coming out and computes every advantage,
// A = score - q(parent beam), in this one place (the SDK contract since ABI 3,
// value_estimator.hpp). Errors are genius::PluginError naming the estimator
// (and, for a malformed candidate, the sampler that made it).
#pragma once

#include <string>
#include <vector>

#include <genius/value_estimator.hpp>

namespace genius::core {

class CheckedValues final : public ValueEstimator {
 public:
  /// Checks calls to `inner` made by the sampler named `caller`; `inner`
  /// must outlive the wrapper.
  CheckedValues(ValueEstimator& inner, std::string caller);

  void score(const Query& query, std::vector<Candidate>& candidates, const std::vector<double>& parent_values,
             ModelBackend& backend) override;

 private:
  ValueEstimator& inner_;
  std::string caller_;
};

}  // namespace genius::core
