// Host-side guard around Loss::compute: a non-finite input or loss stops the
// run with an error naming the plugin, for every loss plugin (in-tree or not).
#pragma once

#include <genius/loss.hpp>

namespace genius::core {

/// Check that the batch is well formed (same length, finite, positive
/// lengths, reference present when needed), call `loss.compute`, and check
/// that the loss is a finite scalar. Throws genius::PluginError naming the
/// plugin, the offending input and the pair index.
LossOutput compute_loss_checked(const Loss& loss, const PreferenceBatch& batch);

}  // namespace genius::core
