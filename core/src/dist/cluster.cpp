#include "dist/cluster.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef GENIUS_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace genius::core {

using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int fallback, int least) {
  const std::optional<std::string> text = env(name);
  if (!text) return fallback;
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text->size() || value < least)
    throw std::runtime_error(std::string("environment variable ") + name + "='" + *text +
                             "' is not an integer >= " + std::to_string(least));
  return value;
}

std::vector<std::uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}
std::string string_of(const std::vector<std::uint8_t>& v) {
  return {v.begin(), v.end()};
}

// The short message of a libtorch error (no C++ backtrace).
std::string cause(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

constexpr std::size_t kBucketBytes = 25u << 20;  // as torch DDP's default bucket_cap_mb

}  // namespace

double ClusterSpec::liveness_seconds() const {
  return std::min(timeout_seconds, 30.0);
}

ClusterSpec ClusterSpec::from_environment() {
  ClusterSpec s;
  const bool torchrun = env("RANK").has_value() || env("WORLD_SIZE").has_value();
  const bool slurm = !torchrun && env("SLURM_PROCID") && env_int("SLURM_NTASKS", 1, 1) > 1;
  if (torchrun) {
    s.world = env_int("WORLD_SIZE", 1, 1);
    s.rank = env_int("RANK", 0, 0);
    s.local_rank = env_int("LOCAL_RANK", s.rank, 0);
    s.local_world = env_int("LOCAL_WORLD_SIZE", s.world, 1);
  } else if (slurm) {
    s.world = env_int("SLURM_NTASKS", 1, 1);
    s.rank = env_int("SLURM_PROCID", 0, 0);
    s.local_rank = env_int("SLURM_LOCALID", 0, 0);
    s.local_world = env_int("SLURM_NTASKS_PER_NODE", s.world, 1);
  }
  if (s.rank >= s.world)
    throw std::runtime_error("RANK=" + std::to_string(s.rank) + " is not below WORLD_SIZE=" + std::to_string(s.world));
  if (s.world > 1) {
    const std::optional<std::string> addr = env("MASTER_ADDR");
    if (!addr && slurm)
      throw std::runtime_error(
          "MASTER_ADDR is not set: under SLURM, export the first node's name in the batch script "
          "(MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1))");
    s.master_addr = addr.value_or("127.0.0.1");
    s.master_port = env_int("MASTER_PORT", 29500, 1);
    if (s.master_port > 65535) throw std::runtime_error("MASTER_PORT=" + std::to_string(s.master_port) + " > 65535");
  }
  return s;
}

// ------------------------------------------------------------------- impl

struct Cluster::Impl {
  ClusterSpec spec;
  c10::intrusive_ptr<c10d::TCPStore> store;  // the main thread's connection
  c10::intrusive_ptr<c10d::TCPStore> beats;  // the heartbeat thread's own connection
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef GENIUS_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  std::thread beat_thread;
  std::mutex beat_mutex;
  std::condition_variable beat_wake;
  bool stopping = false;
  std::atomic<bool> failed{false};  // a collective failed: skip the orderly goodbye
  std::uint64_t seq = 0;
  double reduce_seconds = 0;
  std::int64_t reduce_calls = 0;
  // Liveness as this rank saw it: each peer's last heartbeat count and when it changed.
  std::vector<std::int64_t> beat_count;
  std::vector<Clock::time_point> beat_changed;

  ~Impl() {
    stop_heartbeat();
  }

  std::string key(const std::string& name) const {
    return "genius/" + name;
  }
  std::string beat_key(int r) const {
    return key("beat/" + std::to_string(r));
  }
  std::string store_address() const {
    return spec.master_addr + ":" + std::to_string(spec.master_port);
  }

  void start_heartbeat() {
    beat_count.assign(static_cast<std::size_t>(spec.world), -1);
    beat_changed.assign(static_cast<std::size_t>(spec.world), Clock::now());
    beat_thread = std::thread([this] {
      std::unique_lock<std::mutex> lock(beat_mutex);
      while (!stopping) {
        try {
          beats->add(beat_key(spec.rank), 1);
        } catch (const std::exception&) {
          return;  // the store is gone; the main thread finds out at its next collective
        }
        beat_wake.wait_for(lock, std::chrono::seconds(1), [this] { return stopping; });
      }
    });
  }

  void stop_heartbeat() {
    {
      std::lock_guard<std::mutex> lock(beat_mutex);
      stopping = true;
    }
    beat_wake.notify_all();
    if (beat_thread.joinable()) beat_thread.join();
  }

  [[noreturn]] void store_gone(const std::string& what) {
    failed = true;
    throw ClusterError("rank " + std::to_string(spec.rank) + " lost the rendezvous store at " + store_address() +
                       " while at '" + what + "': rank 0, which hosts it, is gone");
  }

  // Throws a ClusterError when a rank in `waiting_for` announced a failure
  // or its heartbeat has been silent for the liveness window.
  void check_peers(const std::string& what, const std::vector<int>& waiting_for) {
    try {
      check_peers_or_throw(what, waiting_for);
    } catch (const ClusterError&) {
      throw;
    } catch (const std::exception&) {
      store_gone(what);
    }
  }

  void check_peers_or_throw(const std::string& what, const std::vector<int>& waiting_for) {
    const std::int64_t failures = store->add(key("failures"), 0);
    if (failures > 0) {
      for (int r = 0; r < spec.world; ++r) {
        if (r == spec.rank || !store->check({key("failed/" + std::to_string(r))})) continue;
        failed = true;
        throw ClusterError("rank " + std::to_string(r) + " failed while rank " + std::to_string(spec.rank) +
                           " waited at '" + what + "': " + string_of(store->get(key("failed/" + std::to_string(r)))));
      }
    }
    for (int r : waiting_for) {
      if (r == spec.rank) continue;
      const std::int64_t count = store->add(beat_key(r), 0);
      const auto i = static_cast<std::size_t>(r);
      if (count != beat_count[i]) {
        beat_count[i] = count;
        beat_changed[i] = Clock::now();
      } else if (since(beat_changed[i]) > spec.liveness_seconds()) {
        failed = true;
        throw ClusterError("rank " + std::to_string(r) + " stopped responding (no heartbeat for " +
                           std::to_string(static_cast<int>(since(beat_changed[i]))) + " s) while rank " +
                           std::to_string(spec.rank) + " waited at '" + what + "'; it died or hangs");
      }
    }
  }

  // Wait for `keys` (one per rank in `ranks`), checking on the peers each second.
  void wait_for(const std::string& what, const std::vector<std::string>& keys, const std::vector<int>& ranks) {
    const auto started = Clock::now();
    for (;;) {
      try {
        store->wait(keys, std::chrono::milliseconds(1000));
        return;
      } catch (const std::exception&) {
        // A timeout of this slice, or the store is gone: check_peers tells which.
      }
      std::vector<int> missing;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        bool there = false;
        try {
          there = store->check({keys[i]});
        } catch (const std::exception&) {
          store_gone(what);
        }
        if (!there) missing.push_back(ranks[i]);
      }
      check_peers(what, missing);
      if (missing.empty()) return;
      spdlog::debug("cluster: at '{}' for {:.0f} s, waiting for {} rank(s)", what, since(started), missing.size());
    }
  }

  std::vector<at::Tensor> reduce_bucket(const std::string& what, std::vector<at::Tensor> flat) {
    std::vector<at::Tensor> buffers = flat;
    bool to_cpu = false;
#ifdef GENIUS_HAVE_NCCL
    if (nccl) {
      auto work = nccl->allreduce(buffers);
      wait_work(what, work);
      return buffers;
    }
#endif
    if (!buffers[0].device().is_cpu()) {
      buffers[0] = buffers[0].to(at::kCPU);
      to_cpu = true;
    }
    auto work = gloo->allreduce(buffers);
    wait_work(what, work);
    if (to_cpu) flat[0].copy_(buffers[0]);
    return to_cpu ? flat : buffers;
  }

  void wait_work(const std::string& what, const c10::intrusive_ptr<c10d::Work>& work) {
    auto last_check = Clock::now();
    std::vector<int> everyone;
    for (int r = 0; r < spec.world; ++r) everyone.push_back(r);
    int spins = 0;
    while (!work->isCompleted()) {
      std::this_thread::sleep_for(std::chrono::microseconds(++spins < 200 ? 50 : 2000));
      if (since(last_check) > 1.0) {
        check_peers(what, everyone);
        last_check = Clock::now();
      }
    }
    // exception(), not isSuccess(): libtorch 2.x's NCCL work throws from
    // isSuccess() (deprecated there); exception() is the same on both.
    if (const std::exception_ptr error = work->exception()) {
      // A peer's connection broke: find out which rank is to blame before
      // reporting the transport's own words.
      failed = true;
      std::string reason = "unknown";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        reason = cause(e);
      }
      const auto started = Clock::now();
      while (since(started) < spec.liveness_seconds() + 2) {
        check_peers(what, everyone);
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      throw ClusterError("the all-reduce of '" + what + "' failed on rank " + std::to_string(spec.rank) + ": " +
                         reason);
    }
  }
};

// ---------------------------------------------------------------- cluster

Cluster::Cluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<Cluster> Cluster::single() {
  return std::unique_ptr<Cluster>(new Cluster(std::make_unique<Impl>()));
}

std::unique_ptr<Cluster> Cluster::connect(const ClusterSpec& spec) {
  if (spec.world <= 1) {
    auto impl = std::make_unique<Impl>();
    impl->spec = spec;
    return std::unique_ptr<Cluster>(new Cluster(std::move(impl)));
  }
  const bool cuda = spec.device.rfind("cuda", 0) == 0;
  const std::string backend = spec.backend == "auto" ? (cuda ? "nccl" : "gloo") : spec.backend;
#ifndef GENIUS_HAVE_NCCL
  if (backend == "nccl")
    throw ClusterError(
        "[distributed] backend 'nccl'" + std::string(spec.backend == "auto" ? " (the default on cuda)" : "") +
        ": this build of genius has no NCCL (build against a libtorch with CUDA), so use backend = \"gloo\"");
#endif
  if (backend != "gloo" && backend != "nccl")
    throw ClusterError("[distributed] backend '" + backend + "' is not one of auto, gloo, nccl");

  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  const std::string where = impl->store_address();
  const auto timeout = millis(spec.timeout_seconds);
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(spec.master_port);
  options.isServer = spec.rank == 0;
  options.numWorkers = static_cast<std::size_t>(spec.world);
  options.waitWorkers = false;  // the join below names who is missing
  options.timeout = timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(spec.master_addr, options);
    c10d::TCPStoreOptions beat_options = options;
    beat_options.isServer = false;
    beat_options.numWorkers.reset();  // c10::optional on 1.13, std::optional on 2.x
    impl->beats = c10::make_intrusive<c10d::TCPStore>(spec.master_addr, beat_options);
  } catch (const std::exception& e) {
    throw ClusterError(spec.rank == 0
                           ? "rank 0 cannot host the rendezvous store at " + where + " (is MASTER_PORT " +
                                 std::to_string(spec.master_port) + " in use?): " + cause(e)
                           : "rank " + std::to_string(spec.rank) + " cannot reach the rendezvous store at " + where +
                                 " (rank 0) within " + std::to_string(static_cast<int>(spec.timeout_seconds)) + " s");
  }
  // Join: each rank announces itself; every rank waits for all (naming the absent).
  impl->store->set(impl->key("joined/" + std::to_string(spec.rank)), bytes_of("1"));
  const auto started = Clock::now();
  for (;;) {
    std::vector<int> absent;
    for (int r = 0; r < spec.world; ++r)
      if (!impl->store->check({impl->key("joined/" + std::to_string(r))})) absent.push_back(r);
    if (absent.empty()) break;
    if (since(started) > spec.timeout_seconds) {
      std::string list;
      for (int r : absent) list += (list.empty() ? "" : ", ") + std::to_string(r);
      throw ClusterError("rendezvous at " + where + ": rank(s) " + list + " of " + std::to_string(spec.world) +
                         " did not join within " + std::to_string(static_cast<int>(spec.timeout_seconds)) +
                         " s (started with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  impl->start_heartbeat();

  try {
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("genius/pg", impl->store);
#ifdef GENIUS_HAVE_NCCL
    if (backend == "nccl") {
      // libtorch 2.x's NCCL watchdog ends the process on a collective's error
      // or timeout by default; clean-up-only lets check_peers name the rank
      // to blame first. A value the user set stays.
      ::setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", /*overwrite=*/0);
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      impl->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, spec.rank, spec.world, nccl_options);
    }
#endif
    if (backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      const bool loopback = spec.master_addr == "localhost" || spec.master_addr.rfind("127.", 0) == 0;
      gloo_options->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                      : loopback        ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                        : c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_options->threads = 1;
      impl->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, spec.rank, spec.world, gloo_options);
    }
  } catch (const std::exception& e) {
    impl->failed = true;
    throw ClusterError("rank " + std::to_string(spec.rank) + ": the " + backend +
                       " process group did not form: " + cause(e));
  }
  spdlog::debug("cluster: rank {} of {} joined at {} ({})", spec.rank, spec.world, where, backend);
  return std::unique_ptr<Cluster>(new Cluster(std::move(impl)));
}

Cluster::~Cluster() {
  Impl& m = *impl_;
  if (!m.store) return;
  // Rank 0 hosts the store: it leaves last, so no peer loses it mid-goodbye.
  try {
    if (m.spec.rank != 0) {
      m.store->add(m.key("left"), 1);
    } else {
      const auto started = Clock::now();
      while (m.store->add(m.key("left"), 0) < m.spec.world - 1 && since(started) < (m.failed ? 2.0 : 30.0))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const std::exception&) {
  }
  m.stop_heartbeat();
  if (m.failed) {
    // A peer is gone mid-collective: the process group's threads may be stuck
    // on its sockets, and joining them would hang this exit.
    (void)m.gloo.release();
#ifdef GENIUS_HAVE_NCCL
    (void)m.nccl.release();
#endif
  }
}

int Cluster::rank() const {
  return impl_->spec.rank;
}
int Cluster::world() const {
  return impl_->spec.world;
}
const ClusterSpec& Cluster::spec() const {
  return impl_->spec;
}

std::vector<std::string> Cluster::all_gather(const std::string& what, const std::string& bytes) {
  Impl& m = *impl_;
  if (m.spec.world <= 1) return {bytes};
  const std::uint64_t seq = ++m.seq;
  auto slot = [&](std::uint64_t s, int r) { return m.key("gather/" + std::to_string(s) + "/" + std::to_string(r)); };
  try {
    m.store->set(slot(seq, m.spec.rank), bytes_of(what + '\n' + bytes));
    // Every rank has read collective seq - 2 before anyone finished seq - 1.
    if (seq > 2) m.store->deleteKey(slot(seq - 2, m.spec.rank));
  } catch (const ClusterError&) {
    throw;
  } catch (const std::exception&) {
    m.store_gone(what);
  }
  std::vector<std::string> keys;
  std::vector<int> ranks;
  for (int r = 0; r < m.spec.world; ++r) keys.push_back(slot(seq, r)), ranks.push_back(r);
  m.wait_for(what, keys, ranks);
  std::vector<std::string> parts;
  for (int r = 0; r < m.spec.world; ++r) {
    std::string value;
    try {
      value = string_of(m.store->get(keys[static_cast<std::size_t>(r)]));
    } catch (const std::exception&) {
      m.store_gone(what);
    }
    const std::size_t cut = value.find('\n');
    const std::string theirs = value.substr(0, cut);
    if (theirs != what) {
      m.failed = true;
      throw ClusterError("rank " + std::to_string(r) + " is at '" + theirs + "' while rank " +
                         std::to_string(m.spec.rank) + " is at '" + what +
                         "': the ranks run different work (the same config and command on every rank?)");
    }
    parts.push_back(cut == std::string::npos ? std::string() : value.substr(cut + 1));
  }
  return parts;
}

void Cluster::barrier(const std::string& what) {
  all_gather(what, "");
}

std::vector<double> Cluster::sum(const std::string& what, const std::vector<double>& values) {
  if (impl_->spec.world <= 1) return values;
  std::string mine(values.size() * sizeof(double), '\0');
  std::memcpy(mine.data(), values.data(), mine.size());
  std::vector<double> total(values.size(), 0.0);
  for (const std::string& part : all_gather(what, mine)) {
    if (part.size() != mine.size()) throw ClusterError("'" + what + "': the ranks summed vectors of different lengths");
    for (std::size_t i = 0; i < total.size(); ++i) {
      double v = 0;
      std::memcpy(&v, part.data() + i * sizeof(double), sizeof(double));
      total[i] += v;
    }
  }
  return total;
}

void Cluster::all_reduce_sum(const std::string& what, const std::vector<at::Tensor>& tensors) {
  Impl& m = *impl_;
  if (m.spec.world <= 1 || tensors.empty()) return;
  const auto started = Clock::now();
  torch::NoGradGuard no_grad;
  std::size_t i = 0;
  while (i < tensors.size()) {
    // A bucket: consecutive tensors of one dtype and device, up to kBucketBytes.
    std::vector<at::Tensor> members;
    std::size_t bytes = 0;
    const auto dtype = tensors[i].scalar_type();
    const auto device = tensors[i].device();
    while (i < tensors.size() && tensors[i].scalar_type() == dtype && tensors[i].device() == device &&
           (members.empty() || bytes + tensors[i].nbytes() <= kBucketBytes)) {
      bytes += tensors[i].nbytes();
      members.push_back(tensors[i++]);
    }
    std::vector<at::Tensor> flat_views;
    for (const at::Tensor& t : members) flat_views.push_back(t.reshape({-1}));
    const at::Tensor flat = members.size() == 1 ? flat_views[0].contiguous() : at::cat(flat_views);
    const at::Tensor reduced = m.reduce_bucket(what, {flat})[0];
    std::int64_t offset = 0;
    for (const at::Tensor& t : members) {
      const std::int64_t n = t.numel();
      if (!(members.size() == 1 && reduced.data_ptr() == t.data_ptr()))
        t.copy_(reduced.narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
  m.reduce_seconds += since(started);
  ++m.reduce_calls;
}

double Cluster::all_reduce_seconds() const {
  return impl_->reduce_seconds;
}
std::int64_t Cluster::all_reduce_calls() const {
  return impl_->reduce_calls;
}

void Cluster::fail(const std::string& message) noexcept {
  Impl& m = *impl_;
  m.failed = true;
  if (!m.store) return;
  try {
    m.store->set(m.key("failed/" + std::to_string(m.spec.rank)), bytes_of(message));
    m.store->add(m.key("failures"), 1);
  } catch (...) {
  }
}

}  // namespace genius::core
