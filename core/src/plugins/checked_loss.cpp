#include "plugins/checked_loss.hpp"

#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include <genius/error.hpp>

namespace genius::core {
namespace {

void check_input(const Loss& loss, const char* what, const at::Tensor& t, std::int64_t size, bool positive) {
  if (!t.defined()) throw PluginError(loss.name(), std::string("input '") + what + "' is missing");
  if (t.dim() != 1 || t.size(0) != size)
    throw PluginError(loss.name(), std::string("input '") + what + "' must have shape [" + std::to_string(size) +
                                       "], got " + std::to_string(t.dim()) + "-d of " + std::to_string(t.numel()) +
                                       " elements");
  const at::Tensor values = t.detach().to(at::kCPU, at::kDouble);
  const at::Tensor bad = positive ? ~(at::isfinite(values) & (values > 0)) : ~at::isfinite(values);
  if (bad.any().item<bool>()) {
    const std::int64_t i = bad.nonzero()[0][0].item<std::int64_t>();
    throw PluginError(loss.name(), std::string("input '") + what + "' is " +
                                       (positive ? "not a positive finite number" : "not finite") + " (" +
                                       std::to_string(values[i].item<double>()) + ") at pair " + std::to_string(i));
  }
}

}  // namespace

LossOutput compute_loss_checked(const Loss& loss, const PreferenceBatch& batch) {
  const std::int64_t n = batch.size();
  if (n == 0) throw PluginError(loss.name(), "empty batch");
  std::vector<std::pair<const char*, const at::Tensor*>> inputs = {
      {"policy_chosen_logps", &batch.policy_chosen_logps},
      {"policy_rejected_logps", &batch.policy_rejected_logps},
      {"chosen_weights", &batch.chosen_weights},
      {"rejected_weights", &batch.rejected_weights},
      {"chosen_average_weights", &batch.chosen_average_weights}};
  if (loss.needs_reference()) {
    inputs.emplace_back("reference_chosen_logps", &batch.reference_chosen_logps);
    inputs.emplace_back("reference_rejected_logps", &batch.reference_rejected_logps);
  }
  for (const auto& [what, tensor] : inputs) check_input(loss, what, *tensor, n, false);
  check_input(loss, "chosen_lengths", batch.chosen_lengths, n, true);
  check_input(loss, "rejected_lengths", batch.rejected_lengths, n, true);

  LossOutput out = loss.compute(batch);
  if (!out.loss.defined() || out.loss.numel() != 1) throw PluginError(loss.name(), "returned no scalar loss");
  const double value = out.loss.detach().to(at::kCPU, at::kDouble).item<double>();
  if (!std::isfinite(value))
    throw PluginError(loss.name(), "the loss is not finite (" + std::to_string(value) + ") for finite inputs");
  return out;
}

}  // namespace genius::core
