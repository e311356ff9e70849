// The processes of one job, as torchrun and SLURM describe them, and the few
// collective operations Genius needs between them, on libtorch's own c10d:
// a TCPStore for rendezvous and small messages, ProcessGroupGloo (or NCCL on
// CUDA builds that have it) for gradient all-reduce.
//
//   ClusterSpec spec = ClusterSpec::from_environment();     // RANK, WORLD_SIZE, ...
//   spec.timeout_seconds = 300;
//   std::unique_ptr<Cluster> cluster = Cluster::connect(spec);  // world 1: no sockets at all
//   cluster->barrier("explore 1");                          // every rank reaches it, or a ClusterError
//   std::vector<std::string> parts = cluster->all_gather("eval 0", my_part);
//   cluster->all_reduce_sum("gradients", grads);             // in place, bucketed
//
// Faults: every rank beats a heartbeat in the store each second. A rank that
// waits for the others and sees one silent for the liveness window (or
// announced failed, or the store gone) stops with a ClusterError naming that
// rank, so a job whose rank dies or hangs ends within the timeout instead of
// waiting forever.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace genius::core {

/// Where this process stands in its job.
struct ClusterSpec {
  int rank = 0;
  int world = 1;
  int local_rank = 0;
  int local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "auto";  ///< "auto" (gloo on cpu, nccl on cuda), "gloo" or "nccl"
  std::string device = "cpu";    ///< the model's device, for backend "auto" and the all-reduce buffers
  double timeout_seconds = 300;  ///< rendezvous and one collective; also bounds the liveness window

  /// A rank whose heartbeat is silent this long is gone: min(timeout, 30 s).
  double liveness_seconds() const;

  /// From torchrun's RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
  /// MASTER_ADDR, MASTER_PORT, or from SLURM's SLURM_PROCID, SLURM_NTASKS,
  /// SLURM_LOCALID (with MASTER_ADDR/MASTER_PORT set by the batch script)
  /// when RANK is unset. One rank when neither says otherwise. Throws
  /// std::runtime_error naming the variable that is malformed or missing.
  static ClusterSpec from_environment();
};

/// Another rank is gone, hung or failed, or the job cannot meet.
class ClusterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Cluster {
 public:
  /// A job of one process: every operation returns at once.
  static std::unique_ptr<Cluster> single();
  /// Meet the other ranks of `spec` (rank 0 hosts the store). Throws
  /// ClusterError when they do not all arrive within the timeout.
  static std::unique_ptr<Cluster> connect(const ClusterSpec& spec);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int rank() const;
  int world() const;
  bool leader() const { return rank() == 0; }  ///< rank 0 publishes the run directory's files
  bool distributed() const { return world() > 1; }
  const ClusterSpec& spec() const;

  /// Wait until every rank reaches the barrier `what`.
  void barrier(const std::string& what);
  /// Every rank's `bytes`, indexed by rank. All ranks must call the same
  /// collectives in the same order; `what` names this one in errors (and a
  /// rank at another collective is an error).
  std::vector<std::string> all_gather(const std::string& what, const std::string& bytes);
  /// Element-wise sums over the ranks.
  std::vector<double> sum(const std::string& what, const std::vector<double>& values);
  /// Sum `tensors` over the ranks, in place, in buckets of about 25 MB (one
  /// all-reduce per bucket). Tensors must be defined, contiguous and alike
  /// on every rank.
  void all_reduce_sum(const std::string& what, const std::vector<at::Tensor>& tensors);
  /// Seconds spent in all_reduce_sum so far, and its calls.
  double all_reduce_seconds() const;
  std::int64_t all_reduce_calls() const;

  /// Tell the other ranks this one failed with `message` (they stop with an
  /// error naming it instead of waiting for a heartbeat to go silent).
  void fail(const std::string& message) noexcept;

 private:
  struct Impl;
  explicit Cluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace genius::core
