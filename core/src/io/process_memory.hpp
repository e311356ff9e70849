// This process's peak resident memory (Linux /proc), per stage: reset the
// peak at a stage's start, read it at its end.
#pragma once

#include <optional>

namespace genius::core {

/// Restart the peak-RSS count (writes 5 to /proc/self/clear_refs); false
/// where the kernel does not allow it.
bool reset_peak_rss();
/// VmHWM of /proc/self/status in MiB: the most resident memory since the
/// process started or reset_peak_rss(); nullopt where unknown.
std::optional<double> peak_rss_mib();

}  // namespace genius::core
