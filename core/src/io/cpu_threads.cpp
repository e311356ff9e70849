#include "io/cpu_threads.hpp"

#include <dlfcn.h>

#include <ATen/Parallel.h>

namespace genius::core {

void set_cpu_threads(int threads) {
  if (threads < 1) return;
  at::set_num_threads(threads);
  // OpenBLAS's own pool, looked up at run time: the BLAS libtorch loaded may be another one.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(threads);
}

}  // namespace genius::core
