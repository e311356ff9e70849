// The CPU threads of a process's tensor work: libtorch's intra-op pool and,
// when the BLAS is OpenBLAS with its own pthread pool (Debian's
// libopenblas0-pthread), that pool too, so `[run] threads = 1` means one
// thread for every product (and results do not depend on OMP_NUM_THREADS).
#pragma once

namespace genius::core {

/// Use `threads` (>= 1) CPU threads for tensor work.
void set_cpu_threads(int threads);

}  // namespace genius::core
