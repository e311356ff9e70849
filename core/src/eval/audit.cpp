#include "eval/audit.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <spdlog/spdlog.h>

#include <genius/helpers/atomic_file.hpp>

#include "io/jsonl.hpp"
#include "io/records_io.hpp"
#include "plugins/checked_sampler.hpp"

namespace genius::core {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Salts that keep the audit's random streams apart from the training
// queries' (same run seed, other ids anyway) and from each other.
constexpr std::uint64_t kSubsetSalt = 0x6175646974737562ULL;  // "auditsub"
constexpr std::uint64_t kQuerySalt = 0x6175646974717279ULL;   // "auditqry"

// A fraction, or null when there is nothing to count.
json fraction(std::size_t part, std::size_t whole) {
  return whole == 0 ? json(nullptr) : json(static_cast<double>(part) / static_cast<double>(whole));
}

json auc_json(const std::vector<double>& scores, const std::vector<bool>& right) {
  const std::optional<double> auc = roc_auc(scores, right);
  return auc ? json(*auc) : json(nullptr);
}

using Verdict = AnswerJudge::Verdict;

// The metrics of one group of items (all, greedy-right or greedy-wrong).
void group_metrics(const std::vector<const AuditedItem*>& group, const AnswerJudge& judge, const std::string& suffix,
                   json& out) {
  std::vector<double> scores;
  std::vector<bool> right;
  std::map<int, std::pair<std::vector<double>, std::vector<bool>>> by_step;
  std::vector<double> pool_aucs;  // one per pool that holds right and wrong trajectories
  std::size_t pairs = 0, one_sided = 0, chosen_wins = 0, same_answer_pairs = 0, chosen_right = 0;
  std::size_t tree_right = 0, response_right = 0, greedy_right = 0;
  for (const AuditedItem* a : group) {
    const EvalItem& item = *a->item;
    bool any_right = false;
    for (const StepRecord& step : a->record.steps) {
      if (step.foresight_skipped) continue;  // partial trajectories: no final answer to judge
      auto& [step_scores, step_right] = by_step[step.step];
      std::vector<double> pool_scores;
      std::vector<bool> pool_right;
      for (const Candidate& c : step.candidates) {
        const bool r = judge(item, c.trajectory).right;
        scores.push_back(c.score);
        right.push_back(r);
        step_scores.push_back(c.score);
        step_right.push_back(r);
        pool_scores.push_back(c.score);
        pool_right.push_back(r);
        any_right = any_right || r;
      }
      if (const auto auc = roc_auc(pool_scores, pool_right)) pool_aucs.push_back(*auc);
    }
    const bool response = judge(item, a->record.response).right;
    response_right += response ? 1 : 0;
    tree_right += (any_right || response) ? 1 : 0;
    greedy_right += a->greedy_right ? 1 : 0;
    for (const PreferencePair& p : a->pairs) {
      const Verdict w = judge(item, p.chosen), l = judge(item, p.rejected);
      ++pairs;
      chosen_right += w.right ? 1 : 0;
      if (w.right != l.right) {
        ++one_sided;
        chosen_wins += w.right ? 1 : 0;
      }
      same_answer_pairs += (w.answer && l.answer && judge.same(item, *w.answer, *l.answer)) ? 1 : 0;
    }
  }
  out["audit/items" + suffix] = group.size();
  out["audit/value_auc" + suffix] = auc_json(scores, right);
  for (const auto& [t, sr] : by_step)
    out["audit/value_auc/step_" + std::to_string(t) + suffix] = auc_json(sr.first, sr.second);
  out["audit/value_auc_within_pool" + suffix] =
      pool_aucs.empty()
          ? json(nullptr)
          : json(std::accumulate(pool_aucs.begin(), pool_aucs.end(), 0.0) / static_cast<double>(pool_aucs.size()));
  out["audit/mixed_pools" + suffix] = pool_aucs.size();
  out["audit/pairs" + suffix] = pairs;
  out["audit/one_sided_pairs" + suffix] = one_sided;
  out["audit/pair_precision" + suffix] = fraction(chosen_wins, one_sided);
  out["audit/same_answer_pairs" + suffix] = fraction(same_answer_pairs, pairs);
  out["audit/chosen_right" + suffix] = fraction(chosen_right, pairs);
  out["audit/tree_has_right" + suffix] = fraction(tree_right, group.size());
  out["audit/response_accuracy" + suffix] = fraction(response_right, group.size());
  if (suffix.empty()) out["audit/greedy_accuracy"] = fraction(greedy_right, group.size());
}

}  // namespace

AuditOptions AuditOptions::from_config(const ResolvedConfig& config, std::uint64_t run_seed) {
  const ConfigView audit = config.view("audit");
  AuditOptions o;
  o.items = audit.get<std::size_t>("items");
  o.probe = EvalOptions::from_config(config.view("eval"), config.view("data"), run_seed);
  if (const std::string file = audit.get<std::string>("file"); !file.empty()) o.probe.items_file = file;
  o.probe.max_items = 0;  // the subset is drawn from the whole file
  o.probe.greedy = true;
  o.probe.samples = 0;
  o.seed = run_seed;
  return o;
}

std::vector<EvalItem> load_probe_items(const AuditOptions& options) {
  if (options.probe.items_file.empty())
    throw std::runtime_error("[audit] items = " + std::to_string(options.items) +
                             " needs labeled probe items: set [audit] file or [data] eval");
  return load_eval_items(options.probe);
}

std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  const std::size_t n = scores.size();
  const auto n_pos = static_cast<std::size_t>(std::count(positive.begin(), positive.end(), true));
  if (n_pos == 0 || n_pos == n) return std::nullopt;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double positive_ranks = 0;  // sum of the positives' 1-based mid-ranks
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k)
      if (positive[order[k]]) positive_ranks += mid_rank;
    i = j;
  }
  const double p = static_cast<double>(n_pos), q = static_cast<double>(n - n_pos);
  return (positive_ranks - p * (p + 1) / 2) / (p * q);
}

json audit_metrics(const std::vector<AuditedItem>& items, const AnswerJudge& judge) {
  std::vector<const AuditedItem*> all, greedy_right, greedy_wrong;
  std::map<std::int64_t, std::vector<const AuditedItem*>> by_level;
  for (const AuditedItem& a : items) {
    all.push_back(&a);
    (a.greedy_right ? greedy_right : greedy_wrong).push_back(&a);
    if (a.item->level) by_level[*a.item->level].push_back(&a);
  }
  json out = json::object();
  out["items"] = items.size();
  group_metrics(all, judge, "", out);
  group_metrics(greedy_right, judge, "/greedy_right", out);
  group_metrics(greedy_wrong, judge, "/greedy_wrong", out);
  for (const auto& [level, group] : by_level) {
    std::size_t greedy = 0, response = 0;
    for (const AuditedItem* a : group) {
      greedy += a->greedy_right ? 1 : 0;
      response += judge(*a->item, a->record.response).right ? 1 : 0;
    }
    const std::string suffix = "/level_" + std::to_string(level);
    out["audit/items" + suffix] = group.size();
    out["audit/greedy_accuracy" + suffix] = fraction(greedy, group.size());
    out["audit/response_accuracy" + suffix] = fraction(response, group.size());
  }
  return out;
}

json run_audit(ModelBackend& policy, Sampler& sampler, ValueEstimator& values, const AuditOptions& options,
               int iteration, const fs::path& out_dir) {
  const std::vector<EvalItem> file_items = load_probe_items(options);
  std::vector<EvalItem> probe;
  for (std::size_t i : random_subset(file_items.size(), options.items, options.seed ^ kSubsetSalt))
    probe.push_back(file_items[i]);
  if (probe.size() < options.items)
    spdlog::warn("audit: '{}' holds {} items, fewer than [audit] items = {}; auditing all of them",
                 options.probe.items_file.string(), probe.size(), options.items);
  fs::create_directories(out_dir);

  // Greedy answers first: they split every metric.
  const EvalResult greedy = evaluate(policy, probe, options.probe, out_dir / "greedy.jsonl");

  std::vector<Query> queries;
  for (const EvalItem& item : probe) {
    Query q{"audit:" + item.id, item.instruction, 0};
    q.seed = query_seed(options.seed ^ kQuerySalt, iteration, q.id);
    queries.push_back(std::move(q));
  }
  std::vector<AuditedItem> audited(probe.size());
  const std::size_t per_call = std::max<std::size_t>(1, sampler.queries_per_call());
  for (std::size_t begin = 0; begin < queries.size(); begin += per_call) {
    const std::size_t end = std::min(queries.size(), begin + per_call);
    const std::vector<Query> chunk(queries.begin() + static_cast<std::ptrdiff_t>(begin),
                                   queries.begin() + static_cast<std::ptrdiff_t>(end));
    std::vector<ExplorationRecord> records = explore_checked(sampler, chunk, policy, values);
    for (std::size_t k = 0; k < records.size(); ++k) audited[begin + k].record = std::move(records[k]);
  }
  std::vector<json> record_lines, pair_lines, item_lines;
  const AnswerJudge judge(options.probe);
  for (std::size_t i = 0; i < probe.size(); ++i) {
    AuditedItem& a = audited[i];
    a.item = &probe[i];
    a.greedy_right = greedy.greedy_correct.at(i);
    a.pairs = make_pairs_checked(sampler, a.record, pair_seed(a.record.query.seed));
    record_lines.push_back(to_json(a.record));
    json pairs = json::array();
    for (const PreferencePair& p : a.pairs) {
      pair_lines.push_back(to_json(p));
      const Verdict w = judge(probe[i], p.chosen), l = judge(probe[i], p.rejected);
      pairs.push_back({{"step", p.step},
                       {"chosen_answer", w.answer ? json(*w.answer) : json(nullptr)},
                       {"chosen_right", w.right},
                       {"rejected_answer", l.answer ? json(*l.answer) : json(nullptr)},
                       {"rejected_right", l.right}});
    }
    const Verdict response = judge(probe[i], a.record.response);
    item_lines.push_back({{"id", probe[i].id},
                          {"level", probe[i].level ? json(*probe[i].level) : json(nullptr)},
                          {"reference", probe[i].reference},
                          {"greedy_right", a.greedy_right},
                          {"response_answer", response.answer ? json(*response.answer) : json(nullptr)},
                          {"response_right", response.right},
                          {"pairs", std::move(pairs)}});
  }
  json metrics = audit_metrics(audited, judge);
  metrics["iteration"] = iteration;
  write_jsonl_atomic(out_dir / "records.jsonl", record_lines);
  write_jsonl_atomic(out_dir / "pairs.jsonl", pair_lines);
  write_jsonl_atomic(out_dir / "items.jsonl", item_lines);
  write_file_atomic(out_dir / "metrics.json", metrics.dump(2) + "\n");
  return metrics;
}

}  // namespace genius::core
