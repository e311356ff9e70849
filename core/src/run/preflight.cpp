#include "run/preflight.hpp"

#include "config/config.hpp"
#include "eval/audit.hpp"
#include "eval/eval_sets.hpp"
#include "eval/evaluator.hpp"
#include "train/optimizer.hpp"

namespace genius::core {

void preflight(const ResolvedConfig& config) {
  const auto seed = config.view("run").get<std::uint64_t>("seed");
  eval_sets(config, seed);
  answer_extractor(config.view("eval").get<std::string>("answer_regex"));
  AuditOptions::from_config(config, seed);
  TrainOptions::from_config(config.view("train"), seed);
}

}  // namespace genius::core
