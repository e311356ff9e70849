#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <ATen/ATen.h>

#include <genius/model_backend.hpp>

#include "bench.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double measured_matmul_gflops(const std::string& device_name, const std::string& dtype_name) {
  const c10::Device device(device_name);
  const bool gpu = !device.is_cpu();
  const std::int64_t n = gpu ? 8192 : 1024;
  const at::ScalarType dtype = gpu && dtype_name == "bfloat16" ? at::kBFloat16 : at::kFloat;
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  // Reading one element waits for the product (a GPU runs asynchronously).
  auto product = [&] { (void)at::mm(a, b).select(0, 0).select(0, 0).item<float>(); };
  product();  // warm up
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < 1.0) {
    product();
    ++reps;
    seconds = seconds_since(start);
  }
  return 2.0 * double(n * n * n) * reps / seconds / 1e9;
}

double measured_read_gbps(const std::string& device_name) {
  const c10::Device device(device_name);
  const std::int64_t elements = (device.is_cpu() ? std::int64_t{512} : std::int64_t{4096}) * 1024 * 1024 / 4;
  const at::Tensor data = at::ones({elements}, at::TensorOptions().device(device));  // every page resident
  double best = std::numeric_limits<double>::infinity();
  (void)data.sum().item<float>();  // warm up
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    (void)data.sum().item<float>();
    best = std::min(best, seconds_since(start));
  }
  return double(elements) * 4.0 / best / 1e9;
}

std::int64_t parameter_count(ModelBackend& model) {
  std::int64_t n = 0;
  for (const at::Tensor& p : model.parameters()) n += p.numel();
  return n;
}

std::int64_t parameter_bytes(ModelBackend& model) {
  std::int64_t n = 0;
  for (const at::Tensor& p : model.parameters()) n += p.numel() * static_cast<std::int64_t>(p.element_size());
  return n;
}

bool plugin_declares_key(const core::PluginRegistry& registry, PluginKind kind, const std::string& name,
                         const std::string& key) {
  const core::PluginInfo* info = registry.find(kind, name);
  if (!info) return false;
  for (const ConfigKey& k : info->manifest.keys)
    if (k.name == key) return true;
  return false;
}

}  // namespace genius::cli
