#include "run/run_driver.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>

#include "data/query_formats.hpp"
#include "dist/cluster.hpp"
#include "eval/audit.hpp"
#include "eval/eval_sets.hpp"
#include "eval/evaluator.hpp"
#include "io/durable_dir.hpp"
#include "io/errors.hpp"
#include "io/jsonl.hpp"
#include "io/process_memory.hpp"
#include "io/progress.hpp"
#include "io/records_io.hpp"
#include "plugins/checked_backend.hpp"
#include "plugins/checked_sampler.hpp"
#include "run/generation_meter.hpp"
#include "run/report.hpp"
#include "train/trainer.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The [data] train queries a run explores: all of them, or max_train_queries
// of them, a random subset (the same in every iteration: it depends on the
// run seed alone) or the first ones, in the file's order.
std::vector<Query> train_queries(const ConfigView& data, std::uint64_t run_seed) {
  const auto limit = static_cast<std::size_t>(data.get<std::int64_t>("max_train_queries"));
  const bool first = data.get<std::string>("train_subset") == "first";
  QueryFormat format;
  format.format = data.get<std::string>("train_format");
  format.prompt_key = data.get<std::string>("prompt_key");
  format.input_key = data.get<std::string>("input_key");
  format.id_key = data.get<std::string>("id_key");
  std::vector<Query> all = load_queries(data.get<std::string>("train"), format, first ? limit : 0);
  if (first || limit == 0 || limit >= all.size()) return all;
  std::vector<Query> subset;
  for (std::size_t i : random_subset(all.size(), limit, run_seed ^ 0x7375627365740000ULL))
    subset.push_back(std::move(all[i]));
  return subset;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::vector<Query> explore_queries(const ResolvedConfig& config, int iteration) {
  const ConfigView data = config.view("data");
  if (data.get<std::string>("train").empty())
    throw std::runtime_error("[data] train is not set: no queries to explore");
  const auto seed = static_cast<std::uint64_t>(config.view("run").get<std::int64_t>("seed"));
  std::vector<Query> queries = train_queries(data, seed);
  for (Query& q : queries) q.seed = query_seed(seed, iteration, q.id);
  return queries;
}

RunDriver::RunDriver(const ResolvedConfig& config, const PluginRegistry& registry, RunDirectory dir, Cluster& cluster)
    : config_(config),
      registry_(registry),
      dir_(std::move(dir)),
      cluster_(cluster),
      seed_(static_cast<std::uint64_t>(config.view("run").get<std::int64_t>("seed"))),
      iterations_(config.view("run").get<int>("iterations")),
      models_(registry, config),
      start_(std::chrono::steady_clock::now()) {}

RunDriver::~RunDriver() = default;

void RunDriver::use_plugins(std::shared_ptr<ModelBackend> backend, std::shared_ptr<Sampler> sampler,
                            std::shared_ptr<ValueEstimator> values, std::shared_ptr<Loss> loss) {
  policy_ = std::make_shared<CheckedBackend>(std::move(backend));
  policy_iteration_ = 1;
  prepare_policy();
  sampler_ = std::move(sampler);
  values_ = std::move(values);
  attached_ = false;
  loss_ = std::move(loss);
}

void RunDriver::make_explorers() {
  if (!sampler_) sampler_ = create_configured<Sampler>(registry_, config_, PluginKind::Sampler), attached_ = false;
  if (!values_)
    values_ = create_configured<ValueEstimator>(registry_, config_, PluginKind::ValueEstimator), attached_ = false;
  if (attached_) return;
  models_.attach(*sampler_, config_section(PluginKind::Sampler));
  models_.attach(*values_, config_section(PluginKind::ValueEstimator));
  attached_ = true;
}

void RunDriver::finish_stage(Stage stage, int iteration, const json& info) {
  dir_.mark_done(stage, iteration, info);  // a follower's stays in memory
  if (dir_.publishes()) write_outputs(dir_.recorded_status());
}

void RunDriver::prepare_policy() {
  // LoRA adapters start as the base model (B = 0), so the base evaluation is unchanged.
  const TrainOptions train = TrainOptions::from_config(config_.view("train"), seed_);
  if (train.lora.rank > 0) policy_->add_lora(train.lora);
  if (train.gradient_checkpointing) policy_->set_gradient_checkpointing(true);
}

CheckedBackend& RunDriver::policy_at(int iteration) {
  if (!policy_) {
    auto backend =  // a model directory the backend refuses is bad input
        as_input_error([&] { return create_configured<ModelBackend>(registry_, config_, PluginKind::ModelBackend); });
    policy_ = std::make_shared<CheckedBackend>(std::move(backend));
    policy_iteration_ = 1;  // the configured weights start iteration 1 (and are the base for eval-0)
    prepare_policy();
  }
  const int wanted = std::max(iteration, 1);
  if (policy_iteration_ != wanted) {
    // Start of iteration i = end of iteration i - 1.
    const fs::path checkpoint = dir_.checkpoint(wanted - 1);
    if (wanted > 1) {
      if (!fs::exists(checkpoint / "config.json") && !fs::exists(checkpoint / "adapter_config.json"))
        throw InputError("iteration " + std::to_string(wanted) + " needs the checkpoint of iteration " +
                         std::to_string(wanted - 1) + " at '" + checkpoint.string() + "', which is missing");
      policy_->load_weights(checkpoint);
    } else {
      policy_->load_weights(config_.view("model").get<std::string>("path"));
    }
    policy_iteration_ = wanted;
  }
  return *policy_;
}

void RunDriver::run_stage(Stage stage, int iteration) {
  switch (stage) {
    case Stage::Explore:
      explore(iteration);
      break;
    case Stage::Pairs:
      build_pairs(iteration);
      break;
    case Stage::Audit:
      audit(iteration);
      break;
    case Stage::Train:
      train(iteration);
      break;
    case Stage::Eval:
      evaluate(iteration);
      break;
  }
}

json RunDriver::run() {
  // The probe, the benchmarks and the training queries were read once by
  // preflight() before the run started (`genius run`), so none fails late.
  const bool auditing = AuditOptions::from_config(config_, seed_).enabled();
  if (dir_.publishes()) write_outputs("running");
  evaluate(0);
  for (int i = 1; i <= iterations_; ++i) {
    explore(i);
    build_pairs(i);
    if (auditing) audit(i);
    train(i);
    evaluate(i);
  }
  if (dir_.publishes()) write_outputs("finished");
  cluster_.barrier("finished");  // the summary is written before any rank reads it
  return json::parse(read_file(dir_.summary()));
}

// ---------------------------------------------------------------- explore

std::vector<fs::path> RunDriver::record_sources(int iteration) const {
  std::vector<fs::path> sources = dir_.records_shards(iteration);
  if (fs::exists(dir_.records(iteration))) sources.insert(sources.begin(), dir_.records(iteration));
  return sources;
}

std::set<std::string> RunDriver::explored_chunks(int iteration, const std::vector<Query>& queries, std::size_t per_call,
                                                 const fs::path& mine) {
  // Every source: records.jsonl and the shards of any earlier attempt (with
  // any number of ranks). Only this rank's own file may be repaired in place.
  const std::vector<fs::path> sources = record_sources(iteration);
  std::map<std::string, json> by_id;
  std::vector<std::string> mine_ids;
  for (const fs::path& file : sources) {
    const bool own = file == mine;
    const JsonlContents contents = own ? repair_jsonl(file) : read_jsonl(file);
    if (contents.torn_tail && own)
      spdlog::warn("{}: dropped a torn last line (the run was interrupted)", file.string());
    for (const JsonlLine& line : contents.lines) {
      const std::string id = record_from_json(line.value, file.string() + ":" + std::to_string(line.number)).query.id;
      by_id[id] = line.value;
      if (own) mine_ids.push_back(id);
    }
  }
  std::set<std::string> done;
  for (std::size_t i = 0; i < queries.size(); i += per_call) {
    const std::size_t end = std::min(queries.size(), i + per_call);
    bool complete = true;
    for (std::size_t k = i; k < end; ++k) complete = complete && by_id.count(queries[k].id);
    if (complete)
      for (std::size_t k = i; k < end; ++k) done.insert(queries[k].id);
  }
  // Keep in `mine` only the lines of complete chunks (a crash may have left
  // part of one), so the chunk explored again is not there twice.
  if (fs::exists(mine)) {
    std::vector<json> kept;
    for (const std::string& id : mine_ids)
      if (done.count(id)) kept.push_back(by_id[id]);
    if (kept.size() != mine_ids.size()) write_jsonl_atomic(mine, kept);
  }
  return done;
}

void RunDriver::merge_records(int iteration, const std::vector<Query>& queries) {
  const fs::path records_file = dir_.records(iteration);
  const std::vector<fs::path> shards = dir_.records_shards(iteration);
  const std::vector<fs::path> sources = record_sources(iteration);
  std::map<std::string, json> by_id;
  std::vector<std::string> order_now;  // records.jsonl as it is
  for (const fs::path& file : sources)
    for (const JsonlLine& line : read_jsonl(file).lines) {
      const std::string id = record_from_json(line.value, file.string() + ":" + std::to_string(line.number)).query.id;
      by_id[id] = line.value;
      if (file == records_file) order_now.push_back(id);
    }
  std::vector<json> lines;
  std::vector<std::string> order;
  for (const Query& q : queries) {
    const auto it = by_id.find(q.id);
    if (it == by_id.end())
      throw std::runtime_error("explore " + std::to_string(iteration) + ": query '" + q.id +
                               "' has no record after every rank finished (a shard of " +
                               dir_.iteration(iteration).string() + " is missing)");
    lines.push_back(it->second);
    order.push_back(q.id);
  }
  if (order != order_now) write_jsonl_atomic(records_file, lines);
  for (const fs::path& shard : shards) fs::remove(shard);
}

void RunDriver::explore(int iteration) {
  if (dir_.done(Stage::Explore, iteration)) return;
  make_explorers();
  const std::vector<Query> queries = explore_queries(config_, iteration);
  const std::string stage = "explore " + std::to_string(iteration);

  // Queries are explored in fixed chunks of the full list, so a resumed run
  // (or one with another number of ranks) hands the sampler exactly the
  // batches an uninterrupted one-process run does (batch composition can
  // change floating-point results). A chunk is appended with one write; one
  // that a crash left incomplete is explored again. Chunk c is rank
  // c % world's, appended to its shard; rank 0 merges them at the end.
  const std::size_t per_call = std::max<std::size_t>(1, sampler_->queries_per_call());
  if (dir_.publishes()) fs::create_directories(dir_.iteration(iteration));
  cluster_.barrier(stage + ": start");
  const fs::path mine =
      cluster_.distributed() ? dir_.records_shard(iteration, cluster_.rank()) : dir_.records(iteration);
  const std::set<std::string> done = explored_chunks(iteration, queries, per_call, mine);
  cluster_.barrier(stage + ": resume point");  // every rank has read the files before any appends
  if (!done.empty() && dir_.publishes())
    spdlog::info("{}: resuming, {} of {} queries already explored", stage, done.size(), queries.size());
  std::vector<std::vector<Query>> chunks;
  for (std::size_t i = 0, c = 0; i < queries.size(); i += per_call, ++c)
    if (!done.count(queries[i].id) &&
        static_cast<int>(c % static_cast<std::size_t>(cluster_.world())) == cluster_.rank())
      chunks.emplace_back(queries.begin() + static_cast<std::ptrdiff_t>(i),
                          queries.begin() + static_cast<std::ptrdiff_t>(std::min(queries.size(), i + per_call)));
  std::size_t mine_total = 0;
  for (const auto& chunk : chunks) mine_total += chunk.size();

  CheckedBackend& policy = policy_at(iteration);
  reset_peak_rss();
  policy.reset_counters();
  policy.set_training(false);
  CheckedBackend* critic = models_.find("critic");
  if (critic) critic->reset_counters(), critic->set_training(false);
  const GenerationMeter policy_meter(policy);
  std::optional<GenerationMeter> critic_meter;
  if (critic) critic_meter.emplace(*critic);
  JsonlAppender out(mine);
  const auto start = std::chrono::steady_clock::now();
  Progress progress(cluster_.distributed() ? stage + " (rank " + std::to_string(cluster_.rank()) + ")" : "explore",
                    static_cast<std::int64_t>(cluster_.distributed() ? mine_total : queries.size()), "queries");
  std::int64_t finished = cluster_.distributed() ? 0 : static_cast<std::int64_t>(done.size()), tokens = 0;
  std::size_t explored = 0;
  for (const std::vector<Query>& chunk : chunks) {
    if (critic) critic->reset_generation_cache();
    const std::vector<ExplorationRecord> records = explore_checked(*sampler_, chunk, policy, *values_);
    std::vector<json> lines;
    for (const ExplorationRecord& record : records) {
      lines.push_back(to_json(record));
      tokens += record.generated_tokens;
    }
    out.append(lines);
    explored += chunk.size();
    finished += static_cast<std::int64_t>(chunk.size());
    progress.update(finished);
  }
  const double own_seconds = seconds_since(start);
  progress.finish();
  // The counters of every rank, summed (the generation meters stay each rank's own: rank 0's are recorded).
  const std::vector<double> totals =
      cluster_.sum(stage + ": counters",
                   {double(explored), double(tokens), policy.generate_seconds(), double(policy.generate_calls()),
                    double(policy.prompt_tokens()), double(policy.scored_tokens()), own_seconds});
  if (dir_.publishes()) merge_records(iteration, queries);
  const double seconds = seconds_since(start);
  const double all_explored = totals[0], all_tokens = totals[1], generate_seconds = totals[2];
  json info = {{"queries", queries.size()},
               {"explored_now", static_cast<std::int64_t>(all_explored)},
               {"seconds", seconds},
               {"generated_tokens", static_cast<std::int64_t>(all_tokens)},
               {"tokens_per_query", all_explored == 0 ? 0.0 : all_tokens / all_explored},
               {"generate_seconds", generate_seconds},
               {"generate_share", totals[6] > 0 ? generate_seconds / totals[6] : 0.0},
               {"generate_calls", static_cast<std::int64_t>(totals[3])},
               {"prompt_tokens", static_cast<std::int64_t>(totals[4])},
               {"scored_tokens", static_cast<std::int64_t>(totals[5])},
               {"generation", policy_meter.info()}};
  if (cluster_.distributed()) info["ranks"] = cluster_.world();
  info["peak_rss_mib"] = peak_rss_mib().value_or(0.0);
  if (critic)
    info["critic"] = {{"scored_tokens", critic->scored_tokens()},
                      {"generated_tokens", critic->generated_tokens()},
                      {"generation", critic_meter->info()}};
  spdlog::info("{}: {} queries in {:.1f} s, {:.0f} tokens/query, {:.0f}% of the time in generate", stage,
               static_cast<std::int64_t>(all_explored), seconds, info["tokens_per_query"].get<double>(),
               100 * info["generate_share"].get<double>());
  finish_stage(Stage::Explore, iteration, info);
}

// ------------------------------------------------------------------ pairs

void RunDriver::build_pairs(int iteration) {
  if (dir_.done(Stage::Pairs, iteration)) return;
  if (!dir_.publishes()) {  // rank 0 makes them (it is quick)
    cluster_.barrier("pairs " + std::to_string(iteration));
    dir_.mark_done(Stage::Pairs, iteration, {});
    return;
  }
  make_explorers();
  dir_.require_inputs(Stage::Pairs, iteration);
  const fs::path records_file = dir_.records(iteration);
  const JsonlContents records = read_jsonl(records_file);
  std::vector<json> lines;
  for (const JsonlLine& line : records.lines) {
    const ExplorationRecord record =
        record_from_json(line.value, records_file.string() + ":" + std::to_string(line.number));
    for (const PreferencePair& p : make_pairs_checked(*sampler_, record, pair_seed(record.query.seed)))
      lines.push_back(to_json(p));
  }
  write_jsonl_atomic(dir_.pairs(iteration), lines);
  spdlog::info("pairs {}: {} pairs from {} records", iteration, lines.size(), records.lines.size());
  finish_stage(Stage::Pairs, iteration, {{"pairs", lines.size()}, {"records", records.lines.size()}});
  cluster_.barrier("pairs " + std::to_string(iteration));
}

// ------------------------------------------------------------------ audit

// The self-reward audit of the policy that starts `iteration` (audit.hpp):
// after its pairs are made and before it trains, so it measures the pairs the
// iteration trains on, and writes nothing the training reads.
void RunDriver::audit(int iteration) {
  if (dir_.done(Stage::Audit, iteration)) return;
  // Rank 0 audits (it writes nothing the other stages read); the others wait.
  if (dir_.publishes()) audit(iteration, AuditOptions::from_config(config_, seed_));
  cluster_.barrier("audit " + std::to_string(iteration));
  if (!dir_.publishes()) dir_.mark_done(Stage::Audit, iteration, {});
}

json RunDriver::audit(int iteration, const AuditOptions& options) {
  if (!options.enabled())
    throw std::runtime_error(
        "the audit is off: set [audit] items to the number of probe items (e.g. --set audit.items=200)");
  make_explorers();
  CheckedBackend& policy = policy_at(iteration);
  policy.set_training(false);
  const auto start = std::chrono::steady_clock::now();
  json metrics = run_audit(policy, *sampler_, *values_, options, iteration, dir_.audit(iteration));
  metrics["seconds"] = seconds_since(start);
  auto show = [&](const char* k) {
    const json& v = metrics[k];
    return v.is_number() ? fmt::format("{:.3f}", v.get<double>()) : std::string("-");
  };
  spdlog::info(
      "audit {}: value AUC {}, pair precision {} (greedy-wrong items {}), same-answer pairs {}, {} items in {:.1f} s",
      iteration, show("audit/value_auc"), show("audit/pair_precision"), show("audit/pair_precision/greedy_wrong"),
      show("audit/same_answer_pairs"), metrics["items"].get<std::size_t>(), metrics["seconds"].get<double>());
  finish_stage(Stage::Audit, iteration, metrics);
  return metrics;
}

// ------------------------------------------------------------------ train

void RunDriver::train(int iteration) {
  if (dir_.done(Stage::Train, iteration)) return;
  dir_.require_inputs(Stage::Train, iteration);
  const std::vector<PreferencePair> pairs = load_pairs(dir_.pairs(iteration));
  if (!loss_) loss_ = create_configured<Loss>(registry_, config_, PluginKind::Loss);
  CheckedBackend& policy = policy_at(iteration);
  reset_peak_rss();  // the stage's own peak, not exploration's

  Trainer trainer(policy, *loss_,
                  TrainOptions::from_config(config_.view("train"), seed_ + static_cast<std::uint64_t>(iteration)),
                  dir_.train_state(iteration), &cluster_);
  // Step records of an interrupted attempt past its last checkpoint are
  // replayed by the resumed trainer: drop them so none is duplicated.
  const fs::path metrics_file = dir_.train_metrics(iteration);
  if (fs::exists(metrics_file) && dir_.publishes()) {
    std::vector<json> kept;
    for (const JsonlLine& line : repair_jsonl(metrics_file).lines)
      if (line.value.value("step", std::int64_t{0}) <= trainer.resume_step()) kept.push_back(line.value);
    write_jsonl_atomic(metrics_file, kept);
  }
  std::optional<JsonlAppender> metrics;
  if (dir_.publishes()) metrics.emplace(metrics_file);
  const TrainSummary summary = trainer.run(pairs, [&](const json& record) {
    json r = record;
    r["iteration"] = iteration;
    if (metrics) metrics->append(r);
  });

  // The iteration's policy, in the backend's own format, for the next
  // iteration, for `genius eval`, and for users.
  // Every rank holds the same weights; rank 0 writes them.
  const fs::path checkpoint = dir_.checkpoint(iteration);
  if (dir_.publishes()) {
    const fs::path staging = checkpoint.parent_path() / "checkpoint.partial";
    fs::remove_all(staging);
    policy.save(staging);
    replace_directory(staging, checkpoint);
  }
  policy_iteration_ = iteration + 1;

  const json info = {{"pairs", pairs.size()},
                     {"pairs_used", summary.pairs_used},
                     {"pairs_dropped", summary.pairs_dropped},
                     {"responses_truncated", summary.responses_truncated},
                     {"steps", summary.steps},
                     {"resumed_from_step", summary.resumed_from_step},
                     {"last_loss", summary.last_loss},
                     {"seconds", summary.seconds},
                     {"tokens_per_second", summary.tokens_per_second},
                     {"ranks", cluster_.world()},
                     {"all_reduce_seconds", summary.all_reduce_seconds},
                     {"peak_rss_mib", peak_rss_mib().value_or(0.0)}};
  spdlog::info("train {}: {} steps on {} pairs in {:.1f} s ({:.0f} tokens/s)", iteration, summary.steps,
               summary.pairs_used, summary.seconds, summary.tokens_per_second);
  finish_stage(Stage::Train, iteration, info);
  cluster_.barrier("train " + std::to_string(iteration) + ": saved");
}

// ------------------------------------------------------------------- eval

void RunDriver::evaluate(int iteration) {
  if (dir_.done(Stage::Eval, iteration)) return;
  const bool enabled = config_.view("eval").get<bool>("enabled");
  const std::vector<EvalSet> sets = enabled ? eval_sets(config_, seed_) : std::vector<EvalSet>{};
  if (sets.empty()) {
    if (dir_.publishes())
      spdlog::info("eval {}: skipped ({})", iteration,
                   enabled ? "neither [data] eval nor [[eval.sets]] is set" : "[eval] enabled = false");
    return;
  }
  // Iteration 0 is the base model; iteration i the policy after training i.
  CheckedBackend& policy = policy_at(iteration + 1);
  policy.set_training(false);
  if (dir_.publishes()) fs::create_directories(dir_.iteration(iteration));
  const auto start = std::chrono::steady_clock::now();
  // [data] eval's metrics unprefixed in eval.jsonl; each other set's as
  // "<name>/<metric>" in eval-<name>.jsonl; their means as "average/<metric>".
  json record = {{"iteration", iteration}};
  for (const EvalSet& set : sets) {
    const json r = core::evaluate(policy, set.options, dir_.eval(iteration, set.name), &cluster_).to_json();
    for (const auto& [k, v] : r.items()) record[metric_key(set, k)] = v;
  }
  add_averages(record, sets);
  record["seconds"] = seconds_since(start);
  spdlog::info("eval {}: {}", iteration, record.dump());
  finish_stage(Stage::Eval, iteration, record);
  cluster_.barrier("eval " + std::to_string(iteration));
}

// ---------------------------------------------------------------- outputs

void RunDriver::write_outputs(const std::string& status) {
  std::vector<json> evals, audits, explores, steps, lines;
  for (int i = 0; i <= iterations_ + 1; ++i) {
    const json& stages = dir_.stages();
    if (auto it = stages.find(RunDirectory::stage_key(Stage::Eval, i)); it != stages.end()) evals.push_back(*it);
    if (auto it = stages.find(RunDirectory::stage_key(Stage::Audit, i)); it != stages.end()) audits.push_back(*it);
    if (auto it = stages.find(RunDirectory::stage_key(Stage::Explore, i)); it != stages.end()) {
      json r = *it;
      r["iteration"] = i;
      explores.push_back(r);
    }
    const fs::path train_metrics = dir_.train_metrics(i);
    if (i > 0 && fs::exists(train_metrics))
      for (const JsonlLine& line : read_jsonl(train_metrics).lines) steps.push_back(line.value);
  }
  for (const json& s : steps) {
    json r = s;
    r["kind"] = "train";
    lines.push_back(r);
  }
  for (const json& e : evals) {
    json r = e;
    r["kind"] = "eval";
    lines.push_back(r);
  }
  for (const json& a : audits) {
    json r = a;
    r["kind"] = "audit";
    lines.push_back(r);
  }
  for (const json& e : explores) {
    json r = e;
    r["kind"] = "explore";
    lines.push_back(r);
  }
  write_jsonl_atomic(dir_.metrics(), lines);
  const json summary = {{"name", config_.view("run").get<std::string>("name")},
                        {"status", status},
                        {"iterations", iterations_},
                        {"wall_seconds", seconds_since(start_)},
                        {"eval", evals},
                        {"benchmarks", benchmark_table(eval_sets(config_, seed_), benchmark_metric(config_), evals)},
                        {"audit", audits},
                        {"stages", dir_.stages()}};
  write_file_atomic(dir_.summary(), summary.dump(2) + "\n");
  write_file_atomic(dir_.report(), render_report(summary, steps, evals, config_.to_toml(), audits, explores));
}

}  // namespace genius::core
