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

double measured_matmul_gflops() {
  const std::int64_t n = 1024;
  const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::mm(a, b);  // warm up
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < 1.0) {
    at::mm(a, b);
    ++reps;
    seconds = seconds_since(start);
  }
  return 2.0 * double(n * n * n) * reps / seconds / 1e9;
}

double measured_read_gbps() {
  const std::int64_t elements = std::int64_t{512} * 1024 * 1024 / 4;
  const at::Tensor data = at::ones({elements});  // written once: every page is resident
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
