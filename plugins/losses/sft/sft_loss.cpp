// SFT on the chosen response: the self-training baseline (rejected ignored).
#include <ATen/ATen.h>

#include <genius/helpers/preference_metrics.hpp>
#include <genius/loss.hpp>
#include <genius/registration.hpp>

namespace {

class SftLoss final : public genius::Loss {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::Loss, "sft", "1.0.0",
                               "Negative log-likelihood of the chosen response (rejected only reported)")
            .key("length_normalize", true,
                 "per-token mean NLL of each chosen response (false: summed NLL per response)");
    return m;
  }

  explicit SftLoss(const genius::ConfigView& cfg) : length_normalize_(cfg.get<bool>("length_normalize")) {}

  bool needs_reference() const override { return false; }

  // loss = -lp_pi(chosen) / |chosen|   (or -lp_pi(chosen) without length_normalize)
  // Reported reward of a response: its mean token log-prob, lp_pi(y) / |y|.
  genius::LossOutput compute(const genius::PreferenceBatch& batch) const override {
    const at::Tensor lp_w = batch.policy_chosen_logps.to(at::kDouble);
    const at::Tensor len_w = batch.chosen_lengths.to(at::kDouble);
    const at::Tensor loss = length_normalize_ ? (-lp_w / len_w).mean() : (-lp_w).mean();
    const at::Tensor a_l = batch.policy_rejected_logps.to(at::kDouble) / batch.rejected_lengths.to(at::kDouble);
    return {genius::in_policy_dtype(loss, batch), genius::reward_metrics(lp_w / len_w, a_l, batch)};
  }

 private:
  bool length_normalize_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(SftLoss)
