// What `genius bench generate` and `genius bench explore` share: the
// machine's measured limits and the facts about a model they are held to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <genius/manifest.hpp>

namespace genius {
class ModelBackend;
}
namespace genius::core {
class PluginRegistry;
}

namespace genius::cli {

/// Sustained float32 matrix-product rate of this machine, GFLOP/s (1024^3
/// products for about a second).
double measured_matmul_gflops();
/// Memory read bandwidth of this machine, GB/s: the best of a few sums of a
/// 512 MiB float tensor (with the threads ATen uses).
double measured_read_gbps();

/// Elements and bytes of the model's parameters.
std::int64_t parameter_count(ModelBackend& model);
std::int64_t parameter_bytes(ModelBackend& model);

/// Whether the installed `kind` plugin `name` declares the config key `key`
/// (e.g. torch-llama's [model] prefix_cache).
bool plugin_declares_key(const core::PluginRegistry& registry, PluginKind kind, const std::string& name,
                         const std::string& key);

/// `genius bench explore ...` (the arguments after `explore`).
int bench_explore_command(const std::vector<std::string>& args);
/// `genius bench train ...` (the arguments after `train`).
int bench_train_command(const std::vector<std::string>& args);

}  // namespace genius::cli
