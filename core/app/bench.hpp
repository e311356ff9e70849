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

/// Sustained matrix-product rate of a device ("cpu", "cuda", "cuda:1"),
/// GFLOP/s, for about a second: float32 1024^3 products on the CPU (with the
/// threads ATen uses), 8192^3 products in `dtype` ("bfloat16", "float32") on
/// a GPU.
double measured_matmul_gflops(const std::string& device = "cpu", const std::string& dtype = "float32");
/// Memory read bandwidth of a device, GB/s: the best of a few sums of a
/// 512 MiB (CPU) or 4 GiB (GPU) float tensor.
double measured_read_gbps(const std::string& device = "cpu");

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
