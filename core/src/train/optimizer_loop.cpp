#include "train/optimizer_loop.hpp"

#include "dist/cluster.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <genius/error.hpp>
#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/json_text.hpp>

#include "io/durable_dir.hpp"
#include "io/errors.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

// ------------------------------------------------------------ fingerprint

void Fingerprint::add(const void* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    hash_ ^= static_cast<const unsigned char*>(data)[i];
    hash_ *= 1099511628211ull;
  }
}

void Fingerprint::add(const std::vector<TokenId>& ids) {
  const std::uint64_t n = ids.size();
  add(&n, sizeof n);
  add(ids.data(), ids.size() * sizeof(TokenId));
}

std::string Fingerprint::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, hash_);
  return buf;
}

// -------------------------------------------------------------- step plan

std::pair<std::size_t, std::size_t> StepPlan::range(std::int64_t step) const {
  const std::int64_t s = step % steps_per_epoch();
  const auto begin = static_cast<std::size_t>(s * per_step());
  return {begin, std::min(examples, begin + static_cast<std::size_t>(per_step()))};
}

std::int64_t StepPlan::seen(std::int64_t steps) const {
  if (steps == 0) return 0;
  const std::int64_t last = steps - 1;
  return epoch_of(last) * static_cast<std::int64_t>(examples) + static_cast<std::int64_t>(range(last).second);
}

namespace {

// A checkpoint's trainer_state.json: {"step": N, "layout": {...}}, or an
// error naming the file (not the JSON library's text).
json read_checkpoint_state(const fs::path& file) {
  std::string why;
  try {
    const json state = json::parse(read_file(file));
    if (state.is_object() && state.contains("step") && state["step"].is_number_integer() && state.contains("layout"))
      return state;
    why = "not a trainer state ({\"step\": N, \"layout\": {...}})";
  } catch (const json::exception& e) {
    why = "not valid JSON (" + json_error_text(e) + ")";
  } catch (const std::exception&) {
    why = "unreadable";
  }
  throw std::runtime_error("cannot resume from '" + file.parent_path().string() + "': '" + file.string() +
                           "' is damaged: " + why + "; remove '" + file.parent_path().string() +
                           "' to train this iteration from its start");
}

}  // namespace

namespace {

// ---------------------------------------------------------- durable files

constexpr const char* kCheckpointPrefix = "checkpoint-";
constexpr const char* kStateFile = "trainer_state.json";

/// The step of a directory named checkpoint-<step>, or -1.
std::int64_t checkpoint_step(const fs::path& dir) {
  const std::string name = dir.filename().string();
  const std::string prefix = kCheckpointPrefix;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

/// Leftovers of an interrupted checkpoint write or removal (.checkpoint-*).
void remove_temporaries(const fs::path& state_dir) {
  const std::string hidden = std::string(".") + kCheckpointPrefix;
  std::vector<fs::path> leftovers;  // collected first: no removal while the directory is read
  for (const auto& entry : fs::directory_iterator(state_dir))
    if (entry.path().filename().string().compare(0, hidden.size(), hidden) == 0) leftovers.push_back(entry.path());
  for (const auto& path : leftovers) fs::remove_all(path);
}

/// Puts the policy in training mode for the scope, back to eval mode after
/// (also when a step throws).
class TrainingMode {
 public:
  explicit TrainingMode(ModelBackend& backend) : backend_(backend) { backend_.set_training(true); }
  ~TrainingMode() { backend_.set_training(false); }
  TrainingMode(const TrainingMode&) = delete;
  TrainingMode& operator=(const TrainingMode&) = delete;

 private:
  ModelBackend& backend_;
};

[[noreturn]] void fail(const Objective& objective, const std::string& message) {
  if (!objective.plugin().empty()) throw PluginError(objective.plugin(), message);
  throw std::runtime_error(message);
}

/// What one optimizer step did.
struct StepResult {
  double loss = 0.0;
  std::map<std::string, double> metrics;
  std::int64_t tokens = 0;
  double grad_norm = 0.0;  ///< before clipping
};

/// Several ranks: the gradients, loss, metrics and tokens summed over them
/// (a parameter no example of this rank reached counts as a zero gradient).
void sum_over_ranks(Cluster& cluster, const std::vector<at::Tensor>& parameters, StepResult& r, std::int64_t step) {
  std::vector<at::Tensor> grads;
  grads.reserve(parameters.size());
  for (const at::Tensor& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const std::string what = "train step " + std::to_string(step + 1);
  cluster.all_reduce_sum(what + " gradients", grads);
  json mine = {{"loss", r.loss}, {"tokens", r.tokens}, {"metrics", r.metrics}};
  StepResult total;
  total.metrics.clear();
  for (const std::string& part : cluster.all_gather(what + " metrics", mine.dump())) {
    const json theirs = json::parse(part);
    total.loss += theirs["loss"].get<double>();
    total.tokens += theirs["tokens"].get<std::int64_t>();
    for (const auto& [name, value] : theirs["metrics"].items()) total.metrics[name] += value.get<double>();
  }
  r.loss = total.loss;
  r.tokens = total.tokens;
  r.metrics = std::move(total.metrics);
}

/// One optimizer step over `examples` (indices into the objective), in
/// micro-batches of batch_size: a few visible calls.
StepResult optimizer_step(Objective& objective, ModelBackend& policy, torch::optim::AdamW& optimizer,
                          const std::vector<at::Tensor>& parameters, const std::vector<std::size_t>& examples,
                          const TrainOptions& options, double lr, std::int64_t step, Cluster& cluster) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
  optimizer.zero_grad();
  objective.begin_step(examples);
  // This rank's share of the step: every world-th example from its rank on.
  std::vector<std::size_t> mine;
  for (std::size_t i = static_cast<std::size_t>(cluster.rank()); i < examples.size();
       i += static_cast<std::size_t>(cluster.world()))
    mine.push_back(examples[i]);
  StepResult r;
  const auto batch = static_cast<std::size_t>(options.batch_size);
  for (std::size_t first = 0; first < mine.size(); first += batch) {
    const auto from = mine.begin() + static_cast<std::ptrdiff_t>(first);
    MicroBatchResult micro =
        objective.micro_batch(policy, {from, from + static_cast<std::ptrdiff_t>(std::min(batch, mine.size() - first))});
    micro.loss.backward();
    r.loss += micro.value;
    for (const auto& [name, value] : micro.metrics) r.metrics[name] += value;
    r.tokens += micro.tokens;
  }
  if (cluster.distributed()) sum_over_ranks(cluster, parameters, r, step);
  if (!std::isfinite(r.loss))
    fail(objective, "the loss is not finite at step " + std::to_string(step + 1) + "; lower [train] learning_rate");
  r.grad_norm = clip_grad_norm(parameters, options.max_grad_norm);
  if (!std::isfinite(r.grad_norm))
    fail(objective, "the gradient norm is not finite (" + std::to_string(r.grad_norm) + ") at step " +
                        std::to_string(step + 1) + " although the loss is; stopping before the weights are corrupted");
  optimizer.step();
  return r;
}

/// The optimizer state as torch::save writes it, through our own writes: a
/// failing write (a full disk) is reported once the archive is complete, as
/// an error naming the file. (torch's file writer throws from its destructor
/// when a write fails, which ends the process.)
void save_optimizer(const torch::optim::AdamW& optimizer, const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write '" + file.string() + "': " + std::strerror(errno));
  int error = 0;
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  archive.save_to([&](const void* data, std::size_t size) -> std::size_t {
    const auto* p = static_cast<const char*>(data);
    for (std::size_t done = 0; error == 0 && done < size;) {
      const ssize_t n = ::write(fd, p + done, size - done);
      if (n >= 0)
        done += static_cast<std::size_t>(n);
      else if (errno != EINTR)
        error = errno;
    }
    return size;  // the archive goes on to its end; the error is raised below
  });
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) throw std::runtime_error("cannot write '" + file.string() + "': " + std::strerror(error));
}

/// Write checkpoint-<steps>: into a hidden temporary directory, flushed to
/// disk, then renamed into place; only then are the older ones removed. A
/// failed write removes the temporary directory and leaves the older
/// checkpoints as they were.
fs::path save_checkpoint(const fs::path& state_dir, std::int64_t steps, double loss, ModelBackend& policy,
                         torch::optim::AdamW& optimizer, const StepPlan& plan, const json& layout) {
  const std::string name = kCheckpointPrefix + std::to_string(steps);
  const fs::path tmp = state_dir / ("." + name + ".tmp");
  const std::int64_t last = steps - 1;
  const json state = {{"step", steps},
                      {"total_steps", plan.total_steps()},
                      {"epoch", plan.epoch_of(last)},
                      {"position", plan.range(last).second},
                      {"pairs_seen", plan.seen(steps)},
                      {"loss", loss},
                      {"finished", steps == plan.total_steps()},
                      {"layout", layout}};
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    policy.save(tmp / "model");
    save_optimizer(optimizer, tmp / "optimizer.pt");
    write_file_atomic(tmp / kStateFile, state.dump(2) + "\n");
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw std::runtime_error("cannot write the training checkpoint '" + (state_dir / name).string() +
                             "' (earlier checkpoints are kept): " + describe(e));
  }
  fs::path target = state_dir / name;
  replace_directory(tmp, target);
  std::vector<fs::path> older;  // collected first: no renaming while the directory is read
  for (const auto& entry : fs::directory_iterator(state_dir)) {
    const std::int64_t step = checkpoint_step(entry.path());
    if (step >= 0 && step != steps) older.push_back(entry.path());
  }
  for (const auto& dir : older) retire_directory(dir);
  spdlog::debug("train: checkpoint {}", target.string());
  return target;
}

}  // namespace

// ------------------------------------------------------------------- loop

OptimizerLoop::OptimizerLoop(ModelBackend& policy, TrainOptions options, fs::path state_dir, Cluster* cluster)
    : policy_(policy), options_(options), state_dir_(std::move(state_dir)), cluster_(cluster) {
  if (options_.batch_size < 1 || options_.gradient_accumulation_steps < 1 || options_.epochs < 1 ||
      options_.max_length < 1 || options_.save_steps < 0 || options_.max_steps < 0)
    throw std::invalid_argument(
        "trainer: batch_size, gradient_accumulation_steps, epochs and max_length must be >= 1, "
        "save_steps and max_steps >= 0");
  if (!(options_.learning_rate >= 0) || !(options_.max_grad_norm >= 0) || !(options_.adam_epsilon > 0))
    throw std::invalid_argument("trainer: learning_rate and max_grad_norm must be >= 0, adam_epsilon > 0");
}

std::optional<fs::path> OptimizerLoop::latest_checkpoint() const {
  std::optional<fs::path> best;
  std::int64_t best_step = -1;
  if (state_dir_.empty() || !fs::is_directory(state_dir_)) return best;
  for (const auto& entry : fs::directory_iterator(state_dir_)) {
    const std::int64_t step = checkpoint_step(entry.path());
    if (step > best_step && entry.is_directory() && fs::exists(entry.path() / kStateFile)) {
      best_step = step;
      best = entry.path();
    }
  }
  return best;
}

std::int64_t OptimizerLoop::resume_step() const {
  const auto dir = latest_checkpoint();
  return dir ? checkpoint_step(*dir) : 0;
}

LoopSummary OptimizerLoop::run(Objective& objective, const StepCallback& on_step) {
  std::unique_ptr<Cluster> alone;
  Cluster& cluster = cluster_ ? *cluster_ : *(alone = Cluster::single());
  const double reduce_before = cluster.all_reduce_seconds();
  const bool checkpoints = !state_dir_.empty();
  if (checkpoints && cluster.leader()) {
    fs::create_directories(state_dir_);
    remove_temporaries(state_dir_);
  }
  LoopSummary summary;
  const StepPlan plan{objective.size(), options_.batch_size, options_.gradient_accumulation_steps, options_.epochs};
  summary.total_steps = plan.total_steps();
  // A checkpoint is only valid for the same data and the same batch layout.
  const json layout = {{"pairs", objective.size()},
                       {"batch_size", options_.batch_size},
                       {"gradient_accumulation_steps", options_.gradient_accumulation_steps},
                       {"epochs", options_.epochs},
                       {"seed", options_.seed},
                       {"data", objective.fingerprint()}};
  const std::optional<fs::path> checkpoint = latest_checkpoint();
  std::int64_t start_step = 0;
  if (checkpoint) {
    const json state = read_checkpoint_state(*checkpoint / kStateFile);
    if (state.at("layout") != layout)
      throw std::runtime_error("cannot resume from '" + checkpoint->string() +
                               "': it was written for other pairs or another batch layout (saved " +
                               state.at("layout").dump() + ", now " + layout.dump() +
                               "); use another state directory or remove this one");
    start_step = state.at("step").get<std::int64_t>();
    // The loss of the checkpoint's last step: a resume with nothing left to
    // train reports it, not 0 (older checkpoints lack it).
    if (const auto loss = state.find("loss"); loss != state.end() && loss->is_number())
      summary.last_loss = loss->get<double>();
  }
  objective.prepare(policy_, start_step);  // before the checkpoint's weights replace the starting ones

  const std::vector<at::Tensor> parameters = policy_.parameters();
  const std::unique_ptr<torch::optim::AdamW> optimizer = make_adamw(parameters, options_);
  if (checkpoint) {
    policy_.load_weights(*checkpoint / "model");
    const fs::path optimizer_file = *checkpoint / "optimizer.pt";
    try {
      torch::load(*optimizer, optimizer_file.string(), c10::Device(policy_.device()));
    } catch (const c10::Error&) {
      throw std::runtime_error("cannot resume from '" + checkpoint->string() + "': '" + optimizer_file.string() +
                               "' is damaged (not a readable optimizer state); remove '" + checkpoint->string() +
                               "' to train this iteration from its start");
    }
    spdlog::info("train: resumed from {} (step {} of {})", checkpoint->string(), start_step, plan.total_steps());
  }
  summary.resumed_from_step = summary.steps = start_step;
  summary.seen = plan.seen(start_step);
  summary.checkpoint = checkpoint.value_or(fs::path());
  spdlog::info("train: {} examples, {} optimizer steps ({} epochs x {} steps of up to {}), {}", objective.size(),
               plan.total_steps(), options_.epochs, plan.steps_per_epoch(), plan.per_step(), objective.description());

  TrainingMode training(policy_);
  std::vector<std::size_t> order;
  int order_epoch = -1;
  for (std::int64_t step = start_step; step < plan.total_steps(); ++step) {
    const auto started = std::chrono::steady_clock::now();
    const int epoch = plan.epoch_of(step);
    if (epoch != order_epoch) order = epoch_order(objective.size(), options_.seed, epoch), order_epoch = epoch;
    const auto [begin, end] = plan.range(step);

    const double lr = learning_rate_at(options_, step, plan.total_steps());
    const StepResult r = optimizer_step(
        objective, policy_, *optimizer, parameters,
        {order.begin() + static_cast<std::ptrdiff_t>(begin), order.begin() + static_cast<std::ptrdiff_t>(end)},
        options_, lr, step, cluster);
    const double step_loss = r.loss, grad_norm = r.grad_norm;
    const std::int64_t step_tokens = r.tokens;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (step == start_step) summary.first_loss = step_loss;
    summary.steps = step + 1;
    summary.seen = plan.seen(step + 1);
    summary.last_loss = step_loss;
    summary.seconds += seconds;
    summary.tokens += step_tokens;

    json record = {{"step", step + 1},
                   {"epoch", epoch + static_cast<double>(step % plan.steps_per_epoch() + 1) /
                                         static_cast<double>(plan.steps_per_epoch())},
                   {"loss", step_loss},
                   {"learning_rate", lr},
                   {"grad_norm", grad_norm}};
    for (const auto& [name, value] : r.metrics) record[name] = value;
    record["tokens"] = step_tokens;
    record["tokens_per_second"] = seconds > 0 ? static_cast<double>(step_tokens) / seconds : 0.0;
    record["pairs_seen"] = summary.seen;
    record["total_steps"] = plan.total_steps();
    record["seconds"] = seconds;
    spdlog::debug("train: step {}/{} loss {:.5f} lr {:.3g} grad_norm {:.4g} {:.0f} tokens/s", step + 1,
                  plan.total_steps(), step_loss, lr, grad_norm, record["tokens_per_second"].get<double>());
    // The record goes out before the checkpoint: after a crash between the
    // two, the step is redone and its record sent again (a duplicate the
    // caller can drop) instead of being lost.
    if (on_step) on_step(record);

    const bool done = step + 1 == plan.total_steps();
    const bool stop = options_.max_steps > 0 && step + 1 >= options_.max_steps;
    if (checkpoints && (done || stop || (options_.save_steps > 0 && (step + 1) % options_.save_steps == 0)))
      summary.checkpoint = cluster.leader()
                               ? save_checkpoint(state_dir_, step + 1, step_loss, policy_, *optimizer, plan, layout)
                               : state_dir_ / (kCheckpointPrefix + std::to_string(step + 1));
    if (stop) break;
  }
  summary.all_reduce_seconds = cluster.all_reduce_seconds() - reduce_before;
  summary.finished = summary.steps == plan.total_steps();
  return summary;
}

}  // namespace genius::core
