// The trainer on a tiny real model (`genius init-model`, torch-llama through
// the plugin registry) with the real loss plugins: learning, the lr schedule,
// gradient accumulation, clipping, the reference cache, truncation, resume
// after an interruption, and the NaN guard.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <genius/error.hpp>
#include <genius/loss.hpp>
#include <genius/model_backend.hpp>

#include "config/config.hpp"
#include "io/jsonl.hpp"
#include "plugins/plugin_registry.hpp"
#include "test_support.hpp"
#include "train/trainer.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// ------------------------------------------------------------------ set-up

fs::path scratch_root() {
  return fs::temp_directory_path() / ("genius_trainer_test_" + std::to_string(::getpid()));
}

fs::path scratch(const std::string& name) {
  const fs::path dir = scratch_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir.parent_path());
  return dir;
}

/// Removes this process's scratch directory (models, checkpoints) at the end.
class ScratchCleanup : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(scratch_root()); }
};
const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

const core::PluginRegistry& registry() {
  return test::builtin_registry();
}

const fs::path& model_dir() {
  static const fs::path dir = [] {
    const fs::path d = scratch("model");
    test::init_model(d, "--arch llama --hidden 48 --layers 2 --heads 4 --kv-heads 2 --seed 3");
    return d;
  }();
  return dir;
}

ResolvedConfig config(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return validate(RawConfig::parse(text, "test.toml", overrides), registry());
}

/// The tiny model, fresh from disk (the iteration's starting policy).
std::shared_ptr<ModelBackend> load_model(const fs::path& dir = model_dir()) {
  const ResolvedConfig c = config("[model]\nplugin = \"torch-llama\"\n", {"model.path=" + dir.string()});
  return registry().create_as<ModelBackend>(PluginKind::ModelBackend, "torch-llama", c.view("model"));
}

std::shared_ptr<Loss> make_loss(const std::string& name, const std::vector<std::string>& keys = {}) {
  const ResolvedConfig c = config("[loss]\nplugin = \"" + name + "\"\n", keys);
  return registry().create_as<Loss>(PluginKind::Loss, name, c.view("loss"));
}

/// The [train] defaults with test-sized changes.
TrainOptions options(const std::vector<std::string>& keys = {}) {
  return TrainOptions::from_config(config("", keys).view("train"), 7);
}

std::vector<PreferencePair> arithmetic_pairs() {
  return {
      {"q1", 1, "1+1=?", "1+1=2\n\\boxed{2}", "1+1=3\n\\boxed{3}", 1.0, -1.0, 0.0},
      {"q2", 1, "2+2=?", "2+2=4\n\\boxed{4}", "2+2=5\n\\boxed{5}", 0.5, -0.5, 0.1},
      {"q3", 1, "3+1=?", "3+1=4\n\\boxed{4}", "3+1=2\n\\boxed{2}", 0.8, 0.2, 0.5},
      {"q4", 2, "2+3=?", "2+3=5\n\\boxed{5}", "2+3=6\n\\boxed{6}", 0.3, 0.6, 0.4},
  };
}

struct Trained {
  TrainSummary summary;
  std::vector<json> records;
};

Trained train(ModelBackend& policy, const Loss& loss, const TrainOptions& o, const fs::path& state,
              const std::vector<PreferencePair>& pairs = arithmetic_pairs()) {
  Trained r;
  Trainer trainer(policy, loss, o, state);
  r.summary = trainer.run(pairs, [&](const json& record) { r.records.push_back(record); });
  return r;
}

double max_abs_difference(ModelBackend& a, ModelBackend& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  EXPECT_EQ(pa.size(), pb.size());
  double worst = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  return worst;
}

/// The global L2 norm of (a - b) over all parameters.
double distance(ModelBackend& a, ModelBackend& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  double sum = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) sum += (pa[i] - pb[i]).to(at::kDouble).pow(2).sum().item<double>();
  return std::sqrt(sum);
}

/// A backend that forwards to another and counts frozen copies: the
/// reference model is made only when the cache lacks a value.
class CountingBackend final : public ModelBackend {
 public:
  explicit CountingBackend(std::shared_ptr<ModelBackend> inner) : inner_(std::move(inner)) {}
  int frozen_copies = 0;

  std::vector<TokenId> encode(std::string_view text) const override { return inner_->encode(text); }
  std::string decode(const std::vector<TokenId>& ids) const override { return inner_->decode(ids); }
  std::string format_chat(std::string_view message) const override { return inner_->format_chat(message); }
  std::vector<TokenId> eos_token_ids() const override { return inner_->eos_token_ids(); }
  std::int64_t vocab_size() const override { return inner_->vocab_size(); }
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& r) override {
    return inner_->generate(r);
  }
  at::Tensor sequence_logprobs(const std::vector<ScoringExample>& b) override { return inner_->sequence_logprobs(b); }
  std::vector<std::vector<double>> token_logprobs(const std::vector<ScoringExample>& b) override {
    return inner_->token_logprobs(b);
  }
  std::vector<at::Tensor> parameters() override { return inner_->parameters(); }
  void set_training(bool training) override { inner_->set_training(training); }
  std::unique_ptr<ModelBackend> frozen_copy() const override {
    ++const_cast<CountingBackend*>(this)->frozen_copies;
    return inner_->frozen_copy();
  }
  void save(const fs::path& dir) const override { inner_->save(dir); }
  void load_weights(const fs::path& dir) override { inner_->load_weights(dir); }
  std::string device() const override { return inner_->device(); }
  std::string dtype() const override { return inner_->dtype(); }

 private:
  std::shared_ptr<ModelBackend> inner_;
};

/// A loss that returns NaN: the host's guard must stop the run.
class NanLoss final : public Loss {
 public:
  NanLoss() { detail::PluginAccess::set_name(*this, "nan-loss"); }
  bool needs_reference() const override { return false; }
  LossOutput compute(const PreferenceBatch& batch) const override {
    return {batch.policy_chosen_logps.mean() * std::nan(""), {}};
  }
};

// ------------------------------------------------------------ pure pieces

TEST(Trainer, OptionsComeFromTheTrainSection) {
  const TrainOptions o = options({"train.lr_scheduler=cosine", "train.batch_size=3", "train.max_length=77",
                                  "train.gradient_accumulation_steps=2", "train.save_steps=5"});
  EXPECT_EQ(o.lr_scheduler, LrScheduler::Cosine);
  EXPECT_EQ(o.batch_size, 3);
  EXPECT_EQ(o.gradient_accumulation_steps, 2);
  EXPECT_EQ(o.max_length, 77);
  EXPECT_EQ(o.save_steps, 5);
  EXPECT_EQ(o.learning_rate, 5e-7);
  EXPECT_EQ(o.warmup_ratio, 0.1);
  EXPECT_EQ(o.seed, 7u);
}

TEST(Trainer, PairsAreTokenisedWithEosAndTruncatedFromTheEnd) {
  auto m = load_model();
  const PreferencePair p = arithmetic_pairs()[0];
  const auto eos = m->eos_token_ids();
  ASSERT_FALSE(eos.empty());

  const auto full = tokenize_pair(*m, p, 1300);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->prompt_ids, m->encode(m->format_chat(p.prompt)));
  auto chosen = m->encode(p.chosen);
  chosen.push_back(eos.front());
  EXPECT_EQ(full->chosen_ids, chosen);
  EXPECT_EQ(full->rejected_ids.back(), eos.front());
  EXPECT_FALSE(full->chosen_truncated);

  const int prompt = static_cast<int>(full->prompt_ids.size());  // "1+1=?\n": 6 byte tokens
  const auto cut = tokenize_pair(*m, p, prompt + 4);
  ASSERT_TRUE(cut);
  EXPECT_TRUE(cut->chosen_truncated);
  EXPECT_TRUE(cut->rejected_truncated);
  EXPECT_EQ(cut->chosen_ids, std::vector<TokenId>(chosen.begin(), chosen.begin() + 4));
  // Exactly enough room: nothing is cut.
  EXPECT_FALSE(tokenize_pair(*m, p, prompt + static_cast<int>(chosen.size()))->chosen_truncated);
  // No room for a single response token: the pair is dropped.
  EXPECT_FALSE(tokenize_pair(*m, p, prompt));
  EXPECT_TRUE(tokenize_pair(*m, p, prompt + 1));
}

TEST(Trainer, TrimSharedPrefixMovesTheCommonStartIntoThePrompt) {
  auto m = load_model();
  const auto eos = m->eos_token_ids();
  PreferencePair p;
  p.prompt = "7-1+9-7";
  p.chosen = "7-1=6: 6+9-7\n6+9=15";
  p.rejected = "7-1=6: 6+9-7\n6+9=14";
  const auto plain = tokenize_pair(*m, p, 1300);
  const auto trimmed = tokenize_pair(*m, p, 1300, /*trim_shared_prefix=*/true);
  ASSERT_TRUE(plain && trimmed);
  // Byte tokens: the responses agree on their first 19 characters ("...6+9=1").
  const std::size_t shared = std::string("7-1=6: 6+9-7\n6+9=1").size();
  std::vector<TokenId> prompt = plain->prompt_ids;
  prompt.insert(prompt.end(), plain->chosen_ids.begin(),
                plain->chosen_ids.begin() + static_cast<std::ptrdiff_t>(shared));
  EXPECT_EQ(trimmed->prompt_ids, prompt);
  EXPECT_EQ(trimmed->chosen_ids, std::vector<TokenId>(plain->chosen_ids.begin() + static_cast<std::ptrdiff_t>(shared),
                                                      plain->chosen_ids.end()));
  EXPECT_EQ(trimmed->chosen_ids, (std::vector<TokenId>{m->encode("5")[0], eos.front()}));
  EXPECT_EQ(trimmed->rejected_ids, (std::vector<TokenId>{m->encode("4")[0], eos.front()}));
  // Identical responses keep one token each (their EOS) rather than vanish.
  p.rejected = p.chosen;
  const auto same = tokenize_pair(*m, p, 1300, true);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->chosen_ids, std::vector<TokenId>{eos.front()});
  EXPECT_EQ(same->rejected_ids, std::vector<TokenId>{eos.front()});
  // max_length counts the longer prompt.
  EXPECT_FALSE(tokenize_pair(*m, p, static_cast<int>(same->prompt_ids.size()), true));
}

// ------------------------------------------------------------- training

// A few steps of `loss` on the fixed pairs: the loss starts at log 2 (policy
// = reference) and falls, the implicit rewards separate.
void expect_learning(const std::string& loss_name) {
  auto policy = load_model();
  auto loss = make_loss(loss_name);
  const TrainOptions o = options({"train.learning_rate=0.002", "train.warmup_ratio=0", "train.lr_scheduler=constant",
                                  "train.batch_size=4", "train.epochs=12"});
  const Trained r = train(*policy, *loss, o, scratch("learn_" + loss_name));
  ASSERT_EQ(r.records.size(), 12u);
  EXPECT_TRUE(r.summary.finished);
  EXPECT_EQ(r.summary.steps, 12);
  EXPECT_EQ(r.summary.pairs_seen, 48);
  const json& first = r.records.front();
  const json& last = r.records.back();
  EXPECT_NEAR(first["loss"].get<double>(), std::log(2.0), 1e-5);
  EXPECT_NEAR(first["rewards/margins"].get<double>(), 0.0, 1e-5);
  EXPECT_LT(last["loss"].get<double>(), first["loss"].get<double>() - 0.05);
  EXPECT_GT(last["rewards/margins"].get<double>(), 0.1);
  EXPECT_GT(last["rewards/chosen"].get<double>(), last["rewards/rejected"].get<double>());
  EXPECT_EQ(last["rewards/accuracies"].get<double>(), 1.0);
  for (const char* key :
       {"step", "epoch", "loss", "learning_rate", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins",
        "rewards/accuracies", "logps/chosen", "logps/rejected", "tokens", "tokens_per_second", "pairs_seen"})
    EXPECT_TRUE(last.contains(key)) << key;
  EXPECT_EQ(last["step"], 12);
  EXPECT_DOUBLE_EQ(last["epoch"].get<double>(), 12.0);
  EXPECT_GT(r.summary.tokens_per_second, 0);
  std::printf("[ %s ] 4 pairs x 12 steps: loss %.4f -> %.4f, margin %.3f, %.0f tokens/s\n", loss_name.c_str(),
              first["loss"].get<double>(), last["loss"].get<double>(), last["rewards/margins"].get<double>(),
              r.summary.tokens_per_second);
}

TEST(Trainer, AcoLowersTheLossAndSeparatesTheRewards) {
  expect_learning("aco");
}

TEST(Trainer, DpoLowersTheLossAndSeparatesTheRewards) {
  expect_learning("dpo");
}

TEST(Trainer, StepRecordsCarryTheScheduledLearningRates) {
  auto policy = load_model();
  auto loss = make_loss("dpo");
  // 4 pairs, batch 1: 4 steps per epoch, 2 epochs = 8 steps, warmup ceil(0.8) = 1.
  const TrainOptions o = options({"train.learning_rate=0.001", "train.warmup_ratio=0.1", "train.lr_scheduler=linear",
                                  "train.batch_size=1", "train.epochs=2"});
  const Trained r = train(*policy, *loss, o, scratch("schedule"));
  ASSERT_EQ(r.records.size(), 8u);
  const std::vector<double> want = {0, 7.0 / 7, 6.0 / 7, 5.0 / 7, 4.0 / 7, 3.0 / 7, 2.0 / 7, 1.0 / 7};
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(r.records[i]["learning_rate"].get<double>(), 0.001 * want[i], 1e-15) << "step " << i + 1;
    EXPECT_DOUBLE_EQ(r.records[i]["epoch"].get<double>(), (i + 1) / 4.0);
    EXPECT_EQ(r.records[i]["pairs_seen"], i + 1);
  }
}

// With adam_epsilon far above the gradients, AdamW's first update is
// lr * g / (|g| + eps): proportional to the gradient, so a wrong loss scale
// would show in the weights (Adam is otherwise scale invariant).
TEST(Trainer, TwoMicroBatchesOfOneEqualOneBatchOfTwo) {
  const auto all = arithmetic_pairs();
  const std::vector<PreferencePair> pairs(all.begin(), all.begin() + 2);
  auto loss = make_loss("aco");
  const std::vector<std::string> common = {"train.learning_rate=0.1", "train.adam_epsilon=1.0", "train.warmup_ratio=0",
                                           "train.max_grad_norm=0"};
  auto with = [&](std::vector<std::string> keys) {
    keys.insert(keys.end(), common.begin(), common.end());
    return options(keys);
  };
  auto big = load_model(), accumulated = load_model(), untouched = load_model();
  const Trained a = train(*big, *loss, with({"train.batch_size=2", "train.gradient_accumulation_steps=1"}),
                          scratch("accumulate_big"), pairs);
  const Trained b = train(*accumulated, *loss, with({"train.batch_size=1", "train.gradient_accumulation_steps=2"}),
                          scratch("accumulate_two"), pairs);
  ASSERT_EQ(a.records.size(), 1u);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_NEAR(a.records[0]["loss"].get<double>(), b.records[0]["loss"].get<double>(), 1e-6);
  EXPECT_NEAR(a.records[0]["grad_norm"].get<double>(), b.records[0]["grad_norm"].get<double>(),
              1e-5 * a.records[0]["grad_norm"].get<double>());
  EXPECT_NEAR(a.records[0]["rewards/accuracies"].get<double>(), b.records[0]["rewards/accuracies"].get<double>(),
              1e-12);
  EXPECT_LT(max_abs_difference(*big, *accumulated), 1e-6);
  EXPECT_GT(distance(*big, *untouched), 1e-3) << "the step did move the weights";
}

// AdamW's first step moves each weight by lr * g / (|g| + eps), so the whole
// update has norm <= lr * ||g|| / eps: with the gradient clipped to c, the
// weights move by at most lr * c / eps.
TEST(Trainer, ClippingCapsTheGradientNorm) {
  const auto all = arithmetic_pairs();
  const std::vector<PreferencePair> pairs(all.begin(), all.begin() + 2);
  auto loss = make_loss("dpo");
  const double lr = 0.1, eps = 1.0, cap = 1e-3;
  auto run = [&](double max_grad_norm, const std::string& name) {
    auto policy = load_model(), start = load_model();
    const Trained r =
        train(*policy, *loss,
              options({"train.learning_rate=" + std::to_string(lr), "train.adam_epsilon=1.0", "train.warmup_ratio=0",
                       "train.batch_size=2", "train.max_grad_norm=" + std::to_string(max_grad_norm)}),
              scratch(name), pairs);
    return std::make_pair(r.records.at(0)["grad_norm"].get<double>(), distance(*policy, *start));
  };
  const auto [free_norm, free_move] = run(0.0, "clip_off");
  const auto [clipped_norm, clipped_move] = run(cap, "clip_on");
  EXPECT_GT(free_norm, 10 * cap) << "the test needs a gradient above the cap";
  EXPECT_NEAR(clipped_norm, free_norm, 1e-6 * free_norm) << "the reported norm is the one before clipping";
  EXPECT_LE(clipped_move, lr * cap / eps * (1 + 1e-4));
  EXPECT_GT(free_move, 5 * lr * cap / eps);
}

TEST(Trainer, ReferenceLogprobsAreCachedOnceAndEqualFreshOnes) {
  const fs::path state = scratch("reference");
  auto loss = make_loss("aco");
  const TrainOptions o = options({"train.learning_rate=0.001", "train.batch_size=3", "train.epochs=2"});
  const auto pairs = arithmetic_pairs();
  {
    CountingBackend policy(load_model());
    const Trained r = train(policy, *loss, o, state);
    EXPECT_EQ(policy.frozen_copies, 1) << "one reference for both epochs";
    EXPECT_EQ(r.summary.reference_computed, 4u);
  }
  // The cached values are those of the untrained model, computed afresh pair by pair.
  auto fresh = load_model();
  const JsonlContents cache = read_jsonl(state / "reference_logps.jsonl");
  ASSERT_EQ(cache.lines.size(), 4u);
  for (const auto& line : cache.lines) {
    const std::size_t i = line.value["pair"].get<std::size_t>();
    const auto t = tokenize_pair(*fresh, pairs.at(i), o.max_length);
    const at::Tensor want =
        fresh->sequence_logprobs({{t->prompt_ids, t->chosen_ids}, {t->prompt_ids, t->rejected_ids}});
    EXPECT_NEAR(line.value["chosen"].get<double>(), want[0].item<double>(), 1e-5) << "pair " << i;
    EXPECT_NEAR(line.value["rejected"].get<double>(), want[1].item<double>(), 1e-5) << "pair " << i;
  }
  // A new trainer on the finished state directory computes nothing again.
  {
    CountingBackend policy(load_model());
    const Trained r = train(policy, *loss, o, state);
    EXPECT_EQ(policy.frozen_copies, 0);
    EXPECT_EQ(r.summary.reference_computed, 0u);
    EXPECT_TRUE(r.summary.finished);
    EXPECT_TRUE(r.records.empty());
  }
  // A cache cut by a crash (one line lost, the next torn) before training
  // started: only the missing pairs are computed.
  const fs::path partial = scratch("reference_partial");
  fs::create_directories(partial);
  {
    std::ofstream out(partial / "reference_logps.jsonl");
    for (std::size_t i = 0; i < 3; ++i) out << cache.lines[i].value.dump() << "\n";
    out << cache.lines[3].value.dump().substr(0, 20);
  }
  CountingBackend policy(load_model());
  const Trained r = train(policy, *loss, o, partial);
  EXPECT_EQ(r.summary.reference_computed, 1u);
  const JsonlContents repaired = read_jsonl(partial / "reference_logps.jsonl");
  ASSERT_EQ(repaired.lines.size(), 4u);
  EXPECT_FALSE(repaired.torn_tail);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(repaired.lines[i].value, cache.lines[i].value);
}

TEST(Trainer, ALossWithoutReferenceNeverMakesOne) {
  CountingBackend policy(load_model());
  auto loss = make_loss("simpo");
  const fs::path state = scratch("simpo");
  const Trained r = train(policy, *loss, options({"train.batch_size=4"}), state);
  EXPECT_FALSE(fs::exists(state / "reference_logps.jsonl"));
  EXPECT_EQ(policy.frozen_copies, 0);
  EXPECT_EQ(r.summary.steps, 1);
}

// ----------------------------------------------------------------- resume

// 4 pairs, batch 1, 2 epochs: 8 steps, a checkpoint every 3.
TrainOptions resume_options() {
  return options({"train.learning_rate=0.003", "train.warmup_ratio=0.25", "train.lr_scheduler=cosine",
                  "train.batch_size=1", "train.epochs=2", "train.save_steps=3", "train.max_grad_norm=0.5",
                  "train.weight_decay=0.01"});
}

/// The checkpoint directories and hidden leftovers in a state directory, sorted.
std::vector<fs::path> checkpoints(const fs::path& state) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(state))
    if (entry.path().filename().string().rfind("checkpoint", 0) == 0 || entry.path().filename().string()[0] == '.')
      out.push_back(entry.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Trainer, ResumingAfterACrashEndsWithTheWeightsOfAnUninterruptedRun) {
  auto loss = make_loss("aco");
  const TrainOptions o = resume_options();

  auto straight = load_model();
  const fs::path straight_state = scratch("straight");
  const Trained uninterrupted = train(*straight, *loss, o, straight_state);
  ASSERT_EQ(uninterrupted.records.size(), 8u);
  EXPECT_EQ(checkpoints(straight_state), std::vector<fs::path>{"checkpoint-8"});

  // The "crash": the callback throws after step 5, whose checkpoint is not due
  // (the last one is checkpoint-3); a torn checkpoint write is left behind.
  const fs::path state = scratch("crashed");
  {
    auto policy = load_model();
    Trainer trainer(*policy, *loss, o, state);
    EXPECT_THROW(trainer.run(arithmetic_pairs(),
                             [](const json& r) {
                               if (r["step"] == 5) throw std::runtime_error("killed");
                             }),
                 std::runtime_error);
  }
  EXPECT_EQ(checkpoints(state), std::vector<fs::path>{"checkpoint-3"});
  fs::create_directories(state / ".checkpoint-6.tmp" / "model");
  std::ofstream(state / ".checkpoint-6.tmp" / "optimizer.pt") << "torn";

  // A new process: the starting model from disk, a new trainer.
  CountingBackend policy(load_model());
  Trainer trainer(policy, *loss, o, state);
  EXPECT_EQ(trainer.resume_step(), 3);
  std::vector<json> records;
  const TrainSummary s = trainer.run(arithmetic_pairs(), [&](const json& r) { records.push_back(r); });
  EXPECT_EQ(s.resumed_from_step, 3);
  EXPECT_EQ(s.steps, 8);
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(policy.frozen_copies, 0) << "the cached reference is reused";
  ASSERT_EQ(records.size(), 5u);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const json& want = uninterrupted.records[i + 3];
    EXPECT_EQ(records[i]["step"], want["step"]);
    EXPECT_NEAR(records[i]["loss"].get<double>(), want["loss"].get<double>(), 1e-6) << "step " << want["step"];
    EXPECT_DOUBLE_EQ(records[i]["learning_rate"].get<double>(), want["learning_rate"].get<double>());
  }
  EXPECT_LT(max_abs_difference(policy, *straight), 1e-6);
  EXPECT_EQ(checkpoints(state), std::vector<fs::path>{"checkpoint-8"}) << "only the last checkpoint is kept";

  // The saved weights too: both checkpoints load into the same model.
  auto a = load_model(straight_state / "checkpoint-8" / "model");
  auto b = load_model(s.checkpoint / "model");
  EXPECT_LT(max_abs_difference(*a, *b), 1e-6);
  const auto t = tokenize_pair(*a, arithmetic_pairs()[0], 1300);
  EXPECT_NEAR(a->sequence_logprobs({{t->prompt_ids, t->chosen_ids}})[0].item<double>(),
              b->sequence_logprobs({{t->prompt_ids, t->chosen_ids}})[0].item<double>(), 1e-6);
}

TEST(Trainer, MaxStepsStopsWithACheckpointAndTheRestFollows) {
  auto loss = make_loss("dpo");
  TrainOptions o = resume_options();
  o.save_steps = 0;  // only the stop and the end write checkpoints

  auto straight = load_model();
  train(*straight, *loss, o, scratch("maxsteps_straight"));

  const fs::path state = scratch("maxsteps");
  o.max_steps = 5;
  auto first = load_model();
  const Trained part = train(*first, *loss, o, state);
  EXPECT_FALSE(part.summary.finished);
  EXPECT_EQ(part.summary.steps, 5);
  EXPECT_EQ(part.summary.checkpoint, state / "checkpoint-5");

  o.max_steps = 0;
  auto second = load_model();
  const Trained rest = train(*second, *loss, o, state);
  EXPECT_EQ(rest.summary.resumed_from_step, 5);
  EXPECT_EQ(rest.records.size(), 3u);
  EXPECT_TRUE(rest.summary.finished);
  EXPECT_EQ(rest.summary.pairs_seen, 8);
  EXPECT_LT(max_abs_difference(*second, *straight), 1e-6);
}

TEST(Trainer, RefusesToResumeWithOtherPairsOrLayout) {
  auto loss = make_loss("dpo");
  TrainOptions o = resume_options();
  o.max_steps = 2;
  const fs::path state = scratch("mismatch");
  auto policy = load_model();
  train(*policy, *loss, o, state);

  auto other = arithmetic_pairs();
  other[1].chosen = "2+2=4\n\\boxed{four}";
  auto again = load_model();
  try {
    train(*again, *loss, o, state, other);
    FAIL() << "resumed with other pairs";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot resume"));
  }
  o.batch_size = 2;
  EXPECT_THROW(train(*again, *loss, o, state), std::runtime_error);
}

// ------------------------------------------------------------- data limits

TEST(Trainer, TruncatedAndDroppedPairsAreCounted) {
  auto policy = load_model();
  auto loss = make_loss("aco");
  auto pairs = arithmetic_pairs();
  pairs.push_back({"long", 1, std::string(30, 'x'), "a", "b", 0, 0, 0});  // prompt of 31 tokens: dropped
  const Trained r =
      train(*policy, *loss, options({"train.max_length=16", "train.batch_size=4"}), scratch("truncate"), pairs);
  // Each prompt "a+b=?\n" has 6 tokens; each response 15 + EOS = 16 > 10 left.
  EXPECT_EQ(r.summary.pairs_dropped, 1u);
  EXPECT_EQ(r.summary.pairs_used, 4u);
  EXPECT_EQ(r.summary.responses_truncated, 8u);
  EXPECT_EQ(r.summary.steps, 1);
  EXPECT_EQ(r.records.at(0)["tokens"], 4 * 2 * 16);
}

TEST(Trainer, NoUsablePairsTrainNothing) {
  auto policy = load_model(), start = load_model();
  auto loss = make_loss("dpo");
  const fs::path state = scratch("empty");
  const Trained r = train(*policy, *loss, options({"train.max_length=3"}), state);  // every prompt is longer
  EXPECT_EQ(r.summary.pairs_dropped, 4u);
  EXPECT_EQ(r.summary.steps, 0);
  EXPECT_TRUE(r.summary.finished);
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(r.summary.checkpoint.empty());
  EXPECT_EQ(max_abs_difference(*policy, *start), 0.0);
}

// ---------------------------------------------------------------- guards

TEST(Trainer, ANonFiniteLossStopsWithThePluginError) {
  auto policy = load_model();
  const NanLoss nan_loss;
  const fs::path state = scratch("nan");
  try {
    train(*policy, nan_loss, options({"train.batch_size=2"}), state);
    FAIL() << "a NaN loss was trained on";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin(), "nan-loss");
    EXPECT_THAT(e.what(), HasSubstr("not finite"));
  }
  EXPECT_FALSE(Trainer(*policy, nan_loss, options(), state).latest_checkpoint()) << "no checkpoint of a broken step";

  // A non-finite input (an advantage) is named with its pair.
  auto pairs = arithmetic_pairs();
  pairs[2].chosen_weight = std::nan("");
  auto aco = make_loss("aco");
  try {
    train(*policy, *aco, options({"train.batch_size=4"}), scratch("nan_weight"), pairs);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin(), "aco");
    EXPECT_THAT(e.what(), HasSubstr("chosen_weights"));
  }
}

}  // namespace
}  // namespace genius::core
