#include "trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <genius/atomic_file.hpp>
#include <genius/error.hpp>

#include "durable_dir.hpp"
#include "jsonl.hpp"
#include "loss_check.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

// ------------------------------------------------------------------ options

TrainOptions TrainOptions::from_config(const ConfigView& train, std::uint64_t seed) {
  TrainOptions o;
  o.learning_rate = train.get<double>("learning_rate");
  const auto scheduler = train.get<std::string>("lr_scheduler");
  if (scheduler == "linear")
    o.lr_scheduler = LrScheduler::Linear;
  else if (scheduler == "cosine")
    o.lr_scheduler = LrScheduler::Cosine;
  else if (scheduler == "constant")
    o.lr_scheduler = LrScheduler::Constant;
  else
    throw ConfigError("train.lr_scheduler: unknown schedule '" + scheduler + "' (linear, cosine, constant)");
  o.warmup_ratio = train.get<double>("warmup_ratio");
  o.weight_decay = train.get<double>("weight_decay");
  o.adam_beta1 = train.get<double>("adam_beta1");
  o.adam_beta2 = train.get<double>("adam_beta2");
  o.adam_epsilon = train.get<double>("adam_epsilon");
  o.batch_size = train.get<int>("batch_size");
  o.gradient_accumulation_steps = train.get<int>("gradient_accumulation_steps");
  o.max_grad_norm = train.get<double>("max_grad_norm");
  o.epochs = train.get<int>("epochs");
  o.max_length = train.get<int>("max_length");
  o.save_steps = train.get<int>("save_steps");
  o.trim_shared_prefix = train.get<bool>("trim_shared_prefix");
  o.seed = seed;
  return o;
}

// ----------------------------------------------------------------- schedule

std::int64_t warmup_steps(const TrainOptions& options, std::int64_t total_steps) {
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(total_steps) * options.warmup_ratio));
}

constexpr double kPi = 3.14159265358979323846;

// transformers' get_{linear,cosine,constant}_schedule_with_warmup, evaluated
// at the number of scheduler steps already taken (so step 0 of a warmup runs
// at lr 0, as there).
double learning_rate_at(const TrainOptions& options, std::int64_t step, std::int64_t total_steps) {
  const std::int64_t warmup = warmup_steps(options, total_steps);
  if (step < warmup) return options.learning_rate * static_cast<double>(step) / static_cast<double>(warmup);
  const double decay_steps = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup));
  const double progress = static_cast<double>(step - warmup) / decay_steps;
  switch (options.lr_scheduler) {
    case LrScheduler::Linear:
      return options.learning_rate * std::max(0.0, 1.0 - progress);
    case LrScheduler::Cosine:
      return options.learning_rate * std::max(0.0, 0.5 * (1.0 + std::cos(kPi * progress)));
    case LrScheduler::Constant:
      return options.learning_rate;
  }
  return options.learning_rate;
}

// Fisher-Yates with `rng() % (i + 1)` rather than std::uniform_int_distribution,
// whose output differs between standard libraries (as genius/pairs.hpp does):
// a run's data order must not depend on the toolchain.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, int epoch) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng() % i)]);
  return order;
}

// norm = || (||g_1||, ..., ||g_k||) ||_2; if max_norm > 0 and
// c = max_norm / (norm + 1e-6) < 1, every gradient is multiplied by c.
double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm().to(at::kDouble).reshape({1}));
  if (norms.empty()) return 0.0;
  const double norm = at::cat(norms).norm().item<double>();
  const double coefficient = max_norm / (norm + 1e-6);
  if (max_norm > 0 && coefficient < 1.0)
    for (const auto& p : parameters)
      if (p.grad().defined()) p.grad().detach().mul_(coefficient);
  return norm;
}

// ------------------------------------------------------------- tokenisation

std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<at::Tensor>& parameters,
                                               const TrainOptions& options) {
  // Weight decay goes to matrices (embeddings, projections) but not to 1-D
  // parameters (norm gains, biases), as nanoGPT and transformers' Trainer
  // do; decay on a norm gain pulls it towards 0 and hurts.
  std::vector<at::Tensor> decayed, not_decayed;
  for (const auto& p : parameters) (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
  const auto adamw = [&](double weight_decay) {
    return torch::optim::AdamWOptions(options.learning_rate)
        .betas({options.adam_beta1, options.adam_beta2})
        .eps(options.adam_epsilon)
        .weight_decay(weight_decay);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty())
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(adamw(options.weight_decay)));
  if (!not_decayed.empty()) groups.emplace_back(not_decayed, std::make_unique<torch::optim::AdamWOptions>(adamw(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), adamw(options.weight_decay));
}

std::optional<TokenizedPair> tokenize_pair(const ModelBackend& backend, const PreferencePair& pair, int max_length,
                                          bool trim_shared_prefix) {
  TokenizedPair t;
  t.prompt_ids = backend.encode(backend.format_chat(pair.prompt));
  const std::vector<TokenId> eos = backend.eos_token_ids();
  auto encode = [&](const std::string& text) {
    std::vector<TokenId> ids = backend.encode(text);
    if (!eos.empty()) ids.push_back(eos.front());
    return ids;
  };
  t.chosen_ids = encode(pair.chosen);
  t.rejected_ids = encode(pair.rejected);
  if (trim_shared_prefix) {
    // The tokens both responses start with become prompt: only the tokens
    // from the first difference on are scored. At least one token stays.
    const std::size_t limit = std::min(t.chosen_ids.size(), t.rejected_ids.size());
    std::size_t shared = 0;
    while (shared + 1 < limit && t.chosen_ids[shared] == t.rejected_ids[shared]) ++shared;
    t.prompt_ids.insert(t.prompt_ids.end(), t.chosen_ids.begin(), t.chosen_ids.begin() + static_cast<std::ptrdiff_t>(shared));
    t.chosen_ids.erase(t.chosen_ids.begin(), t.chosen_ids.begin() + static_cast<std::ptrdiff_t>(shared));
    t.rejected_ids.erase(t.rejected_ids.begin(), t.rejected_ids.begin() + static_cast<std::ptrdiff_t>(shared));
  }
  const auto room = static_cast<std::int64_t>(max_length) - static_cast<std::int64_t>(t.prompt_ids.size());
  if (room <= 0) return std::nullopt;
  for (auto [ids, truncated] : {std::pair{&t.chosen_ids, &t.chosen_truncated}, {&t.rejected_ids, &t.rejected_truncated}})
    if (static_cast<std::int64_t>(ids->size()) > room) {
      ids->resize(static_cast<std::size_t>(room));
      *truncated = true;
    }
  // Only possible for a backend without an EOS id: a loss divides by lengths.
  if (t.chosen_ids.empty() || t.rejected_ids.empty()) return std::nullopt;
  return t;
}

namespace {

// ---------------------------------------------------------------- helpers

/// FNV-1a, 64 bits: a stable fingerprint of token ids and weights, to tell
/// whether a cache or a checkpoint belongs to these pairs.
class Fingerprint {
 public:
  void add(const void* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      hash_ ^= static_cast<const unsigned char*>(data)[i];
      hash_ *= 1099511628211ull;
    }
  }
  void add(const std::vector<TokenId>& ids) {
    const std::uint64_t n = ids.size();  // the length first, so [1,2][3] != [1][2,3]
    add(&n, sizeof n);
    add(ids.data(), ids.size() * sizeof(TokenId));
  }
  void add(double x) { add(&x, sizeof x); }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, hash_);
    return buf;
  }

 private:
  std::uint64_t hash_ = 14695981039346656037ull;
};

/// A pair that survived tokenisation, with its index in the caller's vector.
struct Example {
  std::size_t index = 0;
  TokenizedPair tokens;
  double chosen_weight = 0, rejected_weight = 0, chosen_average_weight = 0;
  double reference_chosen = 0, reference_rejected = 0;  ///< lp_ref, when the loss needs them
  std::string key;                                      ///< fingerprint of the token ids: the reference cache's key

  std::int64_t policy_tokens() const {
    return static_cast<std::int64_t>(2 * tokens.prompt_ids.size() + tokens.chosen_ids.size() +
                                     tokens.rejected_ids.size());
  }
};

std::string pair_key(const TokenizedPair& t) {
  Fingerprint f;
  f.add(t.prompt_ids);
  f.add(t.chosen_ids);
  f.add(t.rejected_ids);
  return f.hex();
}

/// How the pairs of one epoch split into optimizer steps: micro-batches of
/// `batch_size` pairs in the epoch's order (the last may be smaller), and
/// `gradient_accumulation_steps` micro-batches per step (the last step of an
/// epoch may have fewer). Steps never span two epochs, so every epoch starts
/// with a fresh permutation.
struct StepPlan {
  std::size_t pairs = 0;
  std::int64_t batch_size = 1, accumulation = 1, epochs = 1;

  std::int64_t pairs_per_step() const { return batch_size * accumulation; }
  std::int64_t steps_per_epoch() const {
    return (static_cast<std::int64_t>(pairs) + pairs_per_step() - 1) / pairs_per_step();
  }
  std::int64_t total_steps() const { return steps_per_epoch() * epochs; }
  int epoch_of(std::int64_t step) const { return static_cast<int>(step / steps_per_epoch()); }
  /// Positions [begin, end) of the epoch's order that optimizer step `step` (0-based) trains on.
  std::pair<std::size_t, std::size_t> range(std::int64_t step) const {
    const std::int64_t s = step % steps_per_epoch();
    const auto begin = static_cast<std::size_t>(s * pairs_per_step());
    return {begin, std::min(pairs, begin + static_cast<std::size_t>(pairs_per_step()))};
  }
  /// Pairs trained on once `steps` optimizer steps are done.
  std::int64_t pairs_seen(std::int64_t steps) const {
    if (steps == 0) return 0;
    const std::int64_t last = steps - 1;
    return epoch_of(last) * static_cast<std::int64_t>(pairs) + static_cast<std::int64_t>(range(last).second);
  }
};

// ---------------------------------------------------------- durable files

constexpr const char* kCheckpointPrefix = "checkpoint-";
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kReferenceFile = "reference_logps.jsonl";

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

// ------------------------------------------------------ reference log-probs

/// Fill every example's reference_chosen / reference_rejected: read the
/// cached values and compute the missing ones with a frozen copy of `policy`
/// (which must still be the untrained policy: the reference of DPO/ACO is the
/// policy at the start of the iteration). Returns how many it computed.
///
/// File format, one line per pair: {"pair": index in the caller's vector,
/// "key": fingerprint of its token ids, "chosen": lp_ref, "rejected": lp_ref}.
/// A line whose key does not match is stale (other pairs, another
/// max_length) and is recomputed. Lines are appended batch by batch, so a
/// crash loses at most one batch; a torn last line is dropped on reading.
std::size_t fill_reference_logps(std::vector<Example>& examples, ModelBackend& policy, const fs::path& file,
                                 std::int64_t trained_steps, int batch_size) {
  std::map<std::size_t, json> cached;
  std::size_t stale = 0;
  if (fs::exists(file)) {
    for (auto& line : repair_jsonl(file).lines) {
      const json& v = line.value;
      if (v.is_object() && v.value("pair", json()).is_number_unsigned() && v.value("key", json()).is_string() &&
          v.value("chosen", json()).is_number() && v.value("rejected", json()).is_number())
        cached[v["pair"].get<std::size_t>()] = v;
      else
        ++stale;
    }
  }
  std::vector<std::size_t> missing;  // positions in `examples`
  std::vector<json> keep;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    auto it = cached.find(examples[i].index);
    if (it != cached.end() && it->second["key"] == examples[i].key) {
      examples[i].reference_chosen = it->second["chosen"].get<double>();
      examples[i].reference_rejected = it->second["rejected"].get<double>();
      keep.push_back(it->second);
      cached.erase(it);
    } else {
      missing.push_back(i);
    }
  }
  stale += cached.size();  // entries of pairs that are not in this run
  if (missing.empty()) return 0;

  if (trained_steps > 0)
    throw std::runtime_error(file.string() + ": the reference log-probs of " + std::to_string(missing.size()) +
                             " pairs are missing, but the policy has already been trained for " +
                             std::to_string(trained_steps) +
                             " steps, so the reference model (the policy before training) is gone; "
                             "remove the state directory '" +
                             file.parent_path().string() + "' to train this stage again from its start");
  if (stale > 0) write_jsonl_atomic(file, keep);  // before appending: one entry per pair

  spdlog::info("train: reference log-probs of {} pairs ({} cached)", missing.size(), examples.size() - missing.size());
  const std::unique_ptr<ModelBackend> reference = policy.frozen_copy();
  torch::NoGradGuard no_grad;
  JsonlAppender appender(file);
  for (std::size_t begin = 0; begin < missing.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(missing.size(), begin + static_cast<std::size_t>(batch_size));
    const auto b = static_cast<std::int64_t>(end - begin);
    std::vector<ScoringExample> batch;
    for (std::size_t k = begin; k < end; ++k)
      batch.push_back({examples[missing[k]].tokens.prompt_ids, examples[missing[k]].tokens.chosen_ids});
    for (std::size_t k = begin; k < end; ++k)
      batch.push_back({examples[missing[k]].tokens.prompt_ids, examples[missing[k]].tokens.rejected_ids});
    const at::Tensor sums = reference->sequence_logprobs(batch).detach().to(at::kCPU, at::kDouble).contiguous();
    std::vector<json> lines;
    for (std::size_t k = begin; k < end; ++k) {
      Example& e = examples[missing[k]];
      const auto row = static_cast<std::int64_t>(k - begin);
      e.reference_chosen = sums[row].item<double>();
      e.reference_rejected = sums[b + row].item<double>();
      lines.push_back(
          {{"pair", e.index}, {"key", e.key}, {"chosen", e.reference_chosen}, {"rejected", e.reference_rejected}});
    }
    appender.append(lines);
  }
  return missing.size();
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

/// A [B] tensor of `value(example)` for each example of a micro-batch.
template <class F>
at::Tensor column(const std::vector<const Example*>& batch, const at::TensorOptions& options, F value) {
  std::vector<double> v;
  v.reserve(batch.size());
  for (const Example* e : batch) v.push_back(static_cast<double>(value(*e)));
  return at::tensor(v, at::kDouble).to(options);
}

}  // namespace

// ------------------------------------------------------------------ trainer

Trainer::Trainer(ModelBackend& policy, const Loss& loss, TrainOptions options, fs::path state_dir)
    : policy_(policy), loss_(loss), options_(options), state_dir_(std::move(state_dir)) {
  if (options_.batch_size < 1 || options_.gradient_accumulation_steps < 1 || options_.epochs < 1 ||
      options_.max_length < 1 || options_.save_steps < 0 || options_.max_steps < 0)
    throw std::invalid_argument(
        "trainer: batch_size, gradient_accumulation_steps, epochs and max_length must be >= 1, "
        "save_steps and max_steps >= 0");
  if (!(options_.learning_rate >= 0) || !(options_.max_grad_norm >= 0) || !(options_.adam_epsilon > 0))
    throw std::invalid_argument("trainer: learning_rate and max_grad_norm must be >= 0, adam_epsilon > 0");
}

std::optional<fs::path> Trainer::latest_checkpoint() const {
  std::optional<fs::path> best;
  std::int64_t best_step = -1;
  if (!fs::is_directory(state_dir_)) return best;
  for (const auto& entry : fs::directory_iterator(state_dir_)) {
    const std::int64_t step = checkpoint_step(entry.path());
    if (step > best_step && entry.is_directory() && fs::exists(entry.path() / kStateFile)) {
      best_step = step;
      best = entry.path();
    }
  }
  return best;
}

std::int64_t Trainer::resume_step() const {
  const auto dir = latest_checkpoint();
  return dir ? checkpoint_step(*dir) : 0;
}

TrainSummary Trainer::run(const std::vector<PreferencePair>& pairs, const StepCallback& on_step) {
  fs::create_directories(state_dir_);
  remove_temporaries(state_dir_);
  TrainSummary summary;

  // 1. Tokenise.
  std::vector<Example> examples;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    std::optional<TokenizedPair> t = tokenize_pair(policy_, pairs[i], options_.max_length, options_.trim_shared_prefix);
    if (!t) {
      ++summary.pairs_dropped;
      continue;
    }
    summary.responses_truncated += static_cast<std::size_t>(t->chosen_truncated) + t->rejected_truncated;
    Example e;
    e.index = i;
    e.key = pair_key(*t);
    e.tokens = std::move(*t);
    e.chosen_weight = pairs[i].chosen_weight;
    e.rejected_weight = pairs[i].rejected_weight;
    e.chosen_average_weight = pairs[i].chosen_average_weight;
    examples.push_back(std::move(e));
  }
  summary.pairs_used = examples.size();
  if (summary.pairs_dropped > 0)
    spdlog::warn("train: {} of {} pairs dropped: the prompt (with the shared response start when "
                 "trim_shared_prefix is on) has max_length ({}) tokens or more",
                 summary.pairs_dropped, pairs.size(), options_.max_length);
  if (summary.responses_truncated > 0)
    spdlog::warn("train: {} of {} responses truncated to max_length ({} tokens with the prompt)",
                 summary.responses_truncated, 2 * examples.size(), options_.max_length);
  if (examples.empty()) {
    spdlog::warn("train: no pairs to train on");
    summary.finished = true;  // nothing to do is done
    return summary;
  }

  // The layout of the run: a checkpoint is only valid for the same layout.
  const StepPlan plan{examples.size(), options_.batch_size, options_.gradient_accumulation_steps, options_.epochs};
  const std::int64_t total_steps = plan.total_steps();
  summary.total_steps = total_steps;
  Fingerprint data;
  for (const Example& e : examples) {
    const std::uint64_t index = e.index;
    data.add(&index, sizeof index);
    data.add(e.key.data(), e.key.size());
    data.add(e.chosen_weight);
    data.add(e.rejected_weight);
    data.add(e.chosen_average_weight);
  }
  const json layout = {{"pairs", examples.size()},
                       {"batch_size", options_.batch_size},
                       {"gradient_accumulation_steps", options_.gradient_accumulation_steps},
                       {"epochs", options_.epochs},
                       {"seed", options_.seed},
                       {"data", data.hex()}};

  const std::optional<fs::path> checkpoint = latest_checkpoint();
  std::int64_t start_step = 0;
  if (checkpoint) {
    const json state = json::parse(read_file(*checkpoint / kStateFile));
    if (state.at("layout") != layout)
      throw std::runtime_error("cannot resume from '" + checkpoint->string() +
                               "': it was written for other pairs or another batch layout (saved " +
                               state.at("layout").dump() + ", now " + layout.dump() +
                               "); use another state directory or remove this one");
    start_step = state.at("step").get<std::int64_t>();
  }

  // 2. Reference log-probs, before any checkpoint is loaded: the frozen copy
  // must be the policy as it was at the start of the iteration.
  if (loss_.needs_reference())
    summary.reference_computed =
        fill_reference_logps(examples, policy_, state_dir_ / kReferenceFile, start_step, options_.batch_size);

  // 3. AdamW.
  const std::unique_ptr<torch::optim::AdamW> adamw = make_adamw(policy_.parameters(), options_);
  const std::vector<at::Tensor> parameters = policy_.parameters();
  torch::optim::AdamW& optimizer = *adamw;

  if (checkpoint) {
    policy_.load_weights(*checkpoint / "model");
    torch::load(optimizer, (*checkpoint / "optimizer.pt").string(), c10::Device(policy_.device()));
    spdlog::info("train: resumed from {} (step {} of {})", checkpoint->string(), start_step, total_steps);
  }
  summary.resumed_from_step = start_step;
  summary.steps = start_step;
  summary.pairs_seen = plan.pairs_seen(start_step);
  summary.checkpoint = checkpoint.value_or(fs::path());

  // Write checkpoint-<step>: into a hidden temporary directory, flushed to
  // disk, then renamed into place; only then is the previous one removed.
  auto save_checkpoint = [&](std::int64_t steps) {
    const std::string name = kCheckpointPrefix + std::to_string(steps);
    const fs::path tmp = state_dir_ / ("." + name + ".tmp");
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    policy_.save(tmp / "model");
    torch::save(optimizer, (tmp / "optimizer.pt").string());
    const std::int64_t last = steps - 1;
    const json state = {{"step", steps},
                        {"total_steps", total_steps},
                        {"epoch", plan.epoch_of(last)},
                        {"position", plan.range(last).second},
                        {"pairs_seen", plan.pairs_seen(steps)},
                        {"finished", steps == total_steps},
                        {"layout", layout}};
    write_file_atomic(tmp / kStateFile, state.dump(2) + "\n");
    const fs::path target = state_dir_ / name;
    replace_directory(tmp, target);
    std::vector<fs::path> older;  // collected first: no renaming while the directory is read
    for (const auto& entry : fs::directory_iterator(state_dir_)) {
      const std::int64_t step = checkpoint_step(entry.path());
      if (step >= 0 && step != steps) older.push_back(entry.path());
    }
    for (const auto& dir : older) retire_directory(dir);
    summary.checkpoint = target;
    spdlog::debug("train: checkpoint {}", target.string());
  };

  spdlog::info("train: {} pairs, {} optimizer steps ({} epochs x {} steps of up to {} pairs), loss '{}'",
               examples.size(), total_steps, options_.epochs, plan.steps_per_epoch(), plan.pairs_per_step(),
               loss_.name());

  // 4. The optimizer steps.
  std::int64_t tokens_total = 0;
  {
    TrainingMode training(policy_);
    std::vector<std::size_t> order;
    int order_epoch = -1;
    for (std::int64_t step = start_step; step < total_steps; ++step) {
      const auto started = std::chrono::steady_clock::now();
      const int epoch = plan.epoch_of(step);
      if (epoch != order_epoch) {
        order = epoch_order(examples.size(), options_.seed, epoch);
        order_epoch = epoch;
      }
      const auto [begin, end] = plan.range(step);
      const double step_pairs = static_cast<double>(end - begin);

      optimizer.zero_grad();
      double step_loss = 0.0;
      std::map<std::string, double> metrics;
      std::int64_t step_tokens = 0;
      for (std::size_t first = begin; first < end; first += static_cast<std::size_t>(options_.batch_size)) {
        const std::size_t last = std::min(end, first + static_cast<std::size_t>(options_.batch_size));
        std::vector<const Example*> micro;
        micro.reserve(last - first);
        for (std::size_t k = first; k < last; ++k) micro.push_back(&examples[order[k]]);
        const auto b = static_cast<std::int64_t>(micro.size());

        // Policy sums for chosen and rejected in one forward pass.
        std::vector<ScoringExample> scoring;
        scoring.reserve(2 * micro.size());
        for (const Example* e : micro) scoring.push_back({e->tokens.prompt_ids, e->tokens.chosen_ids});
        for (const Example* e : micro) scoring.push_back({e->tokens.prompt_ids, e->tokens.rejected_ids});
        const at::Tensor logps = policy_.sequence_logprobs(scoring);
        const auto options = at::TensorOptions().dtype(logps.scalar_type()).device(logps.device());

        PreferenceBatch batch;
        batch.policy_chosen_logps = logps.slice(0, 0, b);
        batch.policy_rejected_logps = logps.slice(0, b, 2 * b);
        batch.chosen_lengths = column(micro, options, [](const Example& e) { return e.tokens.chosen_ids.size(); });
        batch.rejected_lengths = column(micro, options, [](const Example& e) { return e.tokens.rejected_ids.size(); });
        batch.chosen_weights = column(micro, options, [](const Example& e) { return e.chosen_weight; });
        batch.rejected_weights = column(micro, options, [](const Example& e) { return e.rejected_weight; });
        batch.chosen_average_weights = column(micro, options, [](const Example& e) { return e.chosen_average_weight; });
        if (loss_.needs_reference()) {
          batch.reference_chosen_logps = column(micro, options, [](const Example& e) { return e.reference_chosen; });
          batch.reference_rejected_logps =
              column(micro, options, [](const Example& e) { return e.reference_rejected; });
        }
        const LossOutput out = compute_loss_checked(loss_, batch);

        // The step's loss is the mean over all its pairs: each micro-batch's
        // mean weighs by its share of the pairs (= 1 / accumulation steps
        // when every micro-batch is full), so accumulating G micro-batches of
        // B pairs gives the gradient of one batch of G*B pairs.
        const double share = static_cast<double>(b) / step_pairs;
        (out.loss * share).backward();
        step_loss += share * out.loss.item<double>();
        for (const auto& [name, value] : out.metrics) metrics[name] += share * value;
        for (const Example* e : micro) step_tokens += e->policy_tokens();
      }

      const double grad_norm = clip_grad_norm(parameters, options_.max_grad_norm);
      if (!std::isfinite(grad_norm))
        throw PluginError(loss_.name(), "the gradient norm is not finite (" + std::to_string(grad_norm) + ") at step " +
                                            std::to_string(step + 1) +
                                            " although the loss is; stopping before the weights are corrupted");
      const double lr = learning_rate_at(options_, step, total_steps);
      for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
      optimizer.step();

      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      summary.steps = step + 1;
      summary.pairs_seen = plan.pairs_seen(step + 1);
      summary.last_loss = step_loss;
      summary.seconds += seconds;
      tokens_total += step_tokens;

      json record = {{"step", step + 1},
                     {"epoch", epoch + static_cast<double>(step % plan.steps_per_epoch() + 1) /
                                           static_cast<double>(plan.steps_per_epoch())},
                     {"loss", step_loss},
                     {"learning_rate", lr},
                     {"grad_norm", grad_norm}};
      for (const auto& [name, value] : metrics) record[name] = value;
      record["tokens"] = step_tokens;
      record["tokens_per_second"] = seconds > 0 ? static_cast<double>(step_tokens) / seconds : 0.0;
      record["pairs_seen"] = summary.pairs_seen;
      record["seconds"] = seconds;
      spdlog::debug("train: step {}/{} loss {:.5f} lr {:.3g} grad_norm {:.4g} {:.0f} tokens/s", step + 1, total_steps,
                    step_loss, lr, grad_norm, record["tokens_per_second"].get<double>());
      // The record goes out before the checkpoint: after a crash between the
      // two, the step is redone and its record sent again (a duplicate the
      // caller can drop) instead of being lost.
      if (on_step) on_step(record);

      const bool done = step + 1 == total_steps;
      const bool stop = options_.max_steps > 0 && step + 1 >= options_.max_steps;
      if (done || stop || (options_.save_steps > 0 && (step + 1) % options_.save_steps == 0)) save_checkpoint(step + 1);
      if (stop) break;
    }
  }

  summary.finished = summary.steps == total_steps;
  if (summary.seconds > 0) summary.tokens_per_second = static_cast<double>(tokens_total) / summary.seconds;
  spdlog::info("train: {} at step {} of {}; {} pairs seen; last loss {:.5f}; {:.0f} tokens/s",
               summary.finished ? "finished" : "stopped", summary.steps, total_steps, summary.pairs_seen,
               summary.last_loss, summary.tokens_per_second);
  return summary;
}

}  // namespace genius::core
