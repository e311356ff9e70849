#include "train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <genius/error.hpp>
#include <genius/helpers/atomic_file.hpp>

#include "dist/cluster.hpp"
#include "io/jsonl.hpp"
#include "plugins/checked_loss.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

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
    t.prompt_ids.insert(t.prompt_ids.end(), t.chosen_ids.begin(),
                        t.chosen_ids.begin() + static_cast<std::ptrdiff_t>(shared));
    t.chosen_ids.erase(t.chosen_ids.begin(), t.chosen_ids.begin() + static_cast<std::ptrdiff_t>(shared));
    t.rejected_ids.erase(t.rejected_ids.begin(), t.rejected_ids.begin() + static_cast<std::ptrdiff_t>(shared));
  }
  const auto room = static_cast<std::int64_t>(max_length) - static_cast<std::int64_t>(t.prompt_ids.size());
  if (room <= 0) return std::nullopt;
  for (auto [ids, truncated] :
       {std::pair{&t.chosen_ids, &t.chosen_truncated}, {&t.rejected_ids, &t.rejected_truncated}})
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
                                 std::int64_t trained_steps, int batch_size, Cluster& cluster) {
  std::map<std::size_t, json> cached;
  std::size_t stale = 0;
  if (fs::exists(file)) {
    // Rank 0 owns the file (and repairs it); the others only read it, and
    // all have read it before rank 0 writes to it.
    for (auto& line : (cluster.leader() ? repair_jsonl(file) : read_jsonl(file)).lines) {
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
  cluster.barrier("train: reference cache read");
  if (missing.empty()) return 0;

  if (trained_steps > 0)
    throw std::runtime_error(file.string() + ": the reference log-probs of " + std::to_string(missing.size()) +
                             " pairs are missing, but the policy has already been trained for " +
                             std::to_string(trained_steps) +
                             " steps, so the reference model (the policy before training) is gone; "
                             "remove the state directory '" +
                             file.parent_path().string() + "' to train this stage again from its start");
  if (stale > 0 && cluster.leader()) write_jsonl_atomic(file, keep);  // before appending: one entry per pair

  spdlog::info("train: reference log-probs of {} pairs ({} cached)", missing.size(), examples.size() - missing.size());
  const std::unique_ptr<ModelBackend> reference = policy.frozen_copy();
  torch::NoGradGuard no_grad;
  std::optional<JsonlAppender> appender;
  if (cluster.leader()) appender.emplace(file);
  // Batches of batch_size missing pairs (the same batches as one process);
  // in rounds of one batch per rank, whose lines every rank then reads.
  const auto per_batch = static_cast<std::size_t>(batch_size);
  const auto world = static_cast<std::size_t>(cluster.world());
  const std::size_t batches = (missing.size() + per_batch - 1) / per_batch;
  std::map<std::size_t, std::size_t> position_of_pair;
  for (std::size_t i = 0; i < examples.size(); ++i) position_of_pair[examples[i].index] = i;
  for (std::size_t round = 0; round * world < batches; ++round) {
    json lines = json::array();
    const std::size_t mine = round * world + static_cast<std::size_t>(cluster.rank());
    if (mine < batches) {
      const std::size_t begin = mine * per_batch, end = std::min(missing.size(), begin + per_batch);
      const auto b = static_cast<std::int64_t>(end - begin);
      std::vector<ScoringExample> batch;
      for (std::size_t k = begin; k < end; ++k)
        batch.push_back({examples[missing[k]].tokens.prompt_ids, examples[missing[k]].tokens.chosen_ids});
      for (std::size_t k = begin; k < end; ++k)
        batch.push_back({examples[missing[k]].tokens.prompt_ids, examples[missing[k]].tokens.rejected_ids});
      const at::Tensor sums = reference->sequence_logprobs(batch).detach().to(at::kCPU, at::kDouble).contiguous();
      for (std::size_t k = begin; k < end; ++k) {
        const Example& e = examples[missing[k]];
        const auto row = static_cast<std::int64_t>(k - begin);
        lines.push_back({{"pair", e.index},
                         {"key", e.key},
                         {"chosen", sums[row].item<double>()},
                         {"rejected", sums[b + row].item<double>()}});
      }
    }
    std::vector<json> round_lines;
    if (cluster.distributed()) {
      const std::vector<std::uint8_t> packed = json::to_msgpack(lines);
      for (const std::string& part :
           cluster.all_gather("train: reference log-probs", std::string(packed.begin(), packed.end())))
        for (const json& line : json::from_msgpack(part)) round_lines.push_back(line);
    } else {
      round_lines.assign(lines.begin(), lines.end());
    }
    for (const json& line : round_lines) {
      Example& e = examples[position_of_pair.at(line["pair"].get<std::size_t>())];
      e.reference_chosen = line["chosen"].get<double>();
      e.reference_rejected = line["rejected"].get<double>();
    }
    if (appender) appender->append(round_lines);
  }
  return missing.size();
}

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

namespace {

constexpr const char* kReferenceFile = "reference_logps.jsonl";

/// Preference optimisation as an Objective: the policy's log-probs of both
/// sides in one forward pass, the loss plugin through the host's checks, and
/// each micro-batch weighted by its share of the step's pairs.
class PreferenceObjective final : public Objective {
 public:
  PreferenceObjective(const Loss& loss, std::vector<Example> examples, const TrainOptions& options,
                      fs::path reference_file, Cluster& cluster)
      : loss_(loss),
        examples_(std::move(examples)),
        options_(options),
        reference_file_(std::move(reference_file)),
        cluster_(cluster) {}

  std::string plugin() const override { return loss_.name(); }
  std::string description() const override { return "loss '" + loss_.name() + "'"; }
  std::size_t size() const override { return examples_.size(); }
  std::string fingerprint() const override {
    Fingerprint data;
    for (const Example& e : examples_) {
      const std::uint64_t index = e.index;
      data.add(&index, sizeof index);
      data.add(e.key.data(), e.key.size());
      data.add(e.chosen_weight);
      data.add(e.rejected_weight);
      data.add(e.chosen_average_weight);
    }
    return data.hex();
  }
  // The reference log-probs, while the policy is still the iteration's start.
  void prepare(ModelBackend& policy, std::int64_t start_step) override {
    if (loss_.needs_reference())
      reference_computed_ =
          fill_reference_logps(examples_, policy, reference_file_, start_step, options_.batch_size, cluster_);
  }
  void begin_step(const std::vector<std::size_t>& step) override { step_pairs_ = static_cast<double>(step.size()); }
  MicroBatchResult micro_batch(ModelBackend& policy, const std::vector<std::size_t>& indices) override {
    std::vector<const Example*> micro;
    micro.reserve(indices.size());
    for (std::size_t i : indices) micro.push_back(&examples_[i]);
    const auto b = static_cast<std::int64_t>(micro.size());
    std::vector<ScoringExample> scoring;  // chosen and rejected in one forward pass
    scoring.reserve(2 * micro.size());
    for (const Example* e : micro) scoring.push_back({e->tokens.prompt_ids, e->tokens.chosen_ids});
    for (const Example* e : micro) scoring.push_back({e->tokens.prompt_ids, e->tokens.rejected_ids});
    const at::Tensor logps = policy.sequence_logprobs(scoring);
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
      batch.reference_rejected_logps = column(micro, options, [](const Example& e) { return e.reference_rejected; });
    }
    const LossOutput out = compute_loss_checked(loss_, batch);

    // The step's loss is the mean over all its pairs: each micro-batch's mean
    // weighs by its share of the pairs (= 1 / accumulation steps when every
    // micro-batch is full), so accumulating G micro-batches of B pairs gives
    // the gradient of one batch of G*B pairs.
    const double share = static_cast<double>(b) / step_pairs_;
    MicroBatchResult r;
    r.loss = out.loss * share;
    r.value = share * out.loss.item<double>();
    for (const auto& [name, value] : out.metrics) r.metrics[name] = share * value;
    for (const Example* e : micro) r.tokens += e->policy_tokens();
    return r;
  }

  std::size_t reference_computed() const { return reference_computed_; }

 private:
  const Loss& loss_;
  std::vector<Example> examples_;
  const TrainOptions& options_;
  fs::path reference_file_;
  Cluster& cluster_;
  double step_pairs_ = 1.0;
  std::size_t reference_computed_ = 0;
};

}  // namespace

Trainer::Trainer(ModelBackend& policy, const Loss& loss, TrainOptions options, fs::path state_dir, Cluster* cluster)
    : policy_(policy),
      loss_(loss),
      options_(options),
      state_dir_(std::move(state_dir)),
      cluster_(cluster),
      loop_(policy_, options_, state_dir_, cluster) {}

std::optional<fs::path> Trainer::latest_checkpoint() const {
  return loop_.latest_checkpoint();
}

std::int64_t Trainer::resume_step() const {
  return loop_.resume_step();
}

TrainSummary Trainer::run(const std::vector<PreferencePair>& pairs, const StepCallback& on_step) {
  std::unique_ptr<Cluster> alone;
  Cluster& cluster = cluster_ ? *cluster_ : *(alone = Cluster::single());
  if (cluster.leader()) fs::create_directories(state_dir_);
  cluster.barrier("train: state directory");
  TrainSummary summary;
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
    spdlog::warn(
        "train: {} of {} pairs dropped: the prompt (with the shared response start when "
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

  PreferenceObjective objective(loss_, std::move(examples), options_, state_dir_ / kReferenceFile, cluster);
  const LoopSummary loop = loop_.run(objective, on_step);
  summary.steps = loop.steps;
  summary.total_steps = loop.total_steps;
  summary.resumed_from_step = loop.resumed_from_step;
  summary.finished = loop.finished;
  summary.pairs_seen = loop.seen;
  summary.reference_computed = objective.reference_computed();
  summary.last_loss = loop.last_loss;
  summary.seconds = loop.seconds;
  summary.checkpoint = loop.checkpoint;
  summary.all_reduce_seconds = loop.all_reduce_seconds;
  if (loop.seconds > 0) summary.tokens_per_second = static_cast<double>(loop.tokens) / loop.seconds;
  spdlog::info("train: {} at step {} of {}; {} pairs seen; last loss {:.5f}; {:.0f} tokens/s",
               summary.finished ? "finished" : "stopped", summary.steps, summary.total_steps, summary.pairs_seen,
               summary.last_loss, summary.tokens_per_second);
  return summary;
}

}  // namespace genius::core
