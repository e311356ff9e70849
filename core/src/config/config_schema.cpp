#include "config/config_schema.hpp"

#include <map>

namespace genius::core {
namespace {

using Keys = std::vector<ConfigKey>;

ConfigKey key(std::string name, ConfigValue default_value, std::string doc, Bounds bounds = {},
              std::vector<std::string> choices = {}) {
  return {std::move(name), std::move(default_value), std::move(doc), bounds, std::move(choices), false, {}};
}
ConfigKey path(std::string name, ConfigValue default_value, std::string doc) {
  ConfigKey k = key(std::move(name), std::move(default_value), std::move(doc));
  k.is_path = true;
  return k;
}
ConfigKey choice(std::string name, std::string default_value, std::vector<std::string> choices, std::string doc) {
  return key(std::move(name), std::move(default_value), std::move(doc), {}, std::move(choices));
}
ConfigKey sized(ConfigKey k, std::size_t min, std::size_t max) {
  k.min_size = min, k.max_size = max;
  return k;
}
ConfigValue integer(std::int64_t v) {
  return v;
}
std::vector<std::string> checker_choices() {
  return {"auto", "boxed", "regex", "gsm8k", "math", "choice", "yesno"};
}

const std::map<std::string, Keys>& schema() {
  static const std::map<std::string, Keys> s = {
      {"run",
       {
           key("name", std::string("genius"), "run name; the run directory is <out_dir>/<name>"),
           key("out_dir", std::string("runs"),
               "parent directory of run directories (relative to the working directory)"),
           key("seed", integer(0), "seed of every random choice in the run", at_least(0)),
           key("iterations", integer(1), "self-training iterations (explore -> pairs -> train -> eval)",
               between(1, 10000)),
           key("threads", integer(0), "CPU threads for libtorch; 0 = all cores", between(0, 4096)),
           choice("log_level", "info", {"trace", "debug", "info", "warn", "error", "off"},
                  "console log level (the run's log file always records debug)"),
           path("plugin_path", std::vector<std::string>{},
                "extra plugin directories or library files, relative to the config file"),
       }},
      {"data",
       {
           path("train", std::string(""), "JSONL file of unlabeled training queries (relative to the config file)"),
           path("eval", std::string(""), "JSONL file of labeled evaluation items (relative to the config file)"),
           path("extra_eval", std::vector<std::string>{},
                "more labeled JSONL files evaluated like [data] eval, each reported under its file name's stem"),
           key("prompt_key", std::string("instruction"), "JSON field holding the query text"),
           choice("train_format", "auto", {"auto", "prompt", "alpaca", "messages", "sharegpt", "magpie"},
                  "layout of [data] train's records (docs/data.md); auto = detected per record"),
           key("input_key", std::string("input"), "Alpaca records: the field appended to the instruction"),
           key("id_key", std::string("id"), "the field holding a query's id (Magpie: uuid); else line-N"),
           key("answer_key", std::string("answer"), "JSON field holding the reference answer (eval only)"),
           key("max_train_queries", integer(0),
               "use at most this many training queries (a subset chosen by train_subset); 0 = all", at_least(0)),
           choice("train_subset", "random", {"random", "first"},
                  "which max_train_queries queries: a random subset seeded by [run] seed (as the paper draws its "
                  "queries), or the first ones of the file"),
           key("max_eval_queries", integer(0), "use at most this many evaluation items; 0 = all", at_least(0)),
       }},
      {"train",
       {
           key("learning_rate", 5e-7, "peak AdamW learning rate", at_least(0.0, false)),
           choice("lr_scheduler", "linear", {"linear", "cosine", "constant"},
                  "decay after warmup: linear to 0, cosine to 0, or constant"),
           key("warmup_ratio", 0.1, "fraction of optimizer steps spent warming up linearly from 0", between(0.0, 1.0)),
           key("weight_decay", 0.0, "AdamW decoupled weight decay", at_least(0.0)),
           key("adam_beta1", 0.9, "AdamW beta1", Bounds{0.0, 1.0, true, false}),
           key("adam_beta2", 0.999, "AdamW beta2", Bounds{0.0, 1.0, true, false}),
           key("adam_epsilon", 1e-8, "AdamW epsilon", at_least(0.0, false)),
           key("batch_size", integer(8), "preference pairs per micro-batch", between(1, 1 << 20)),
           key("gradient_accumulation_steps", integer(1), "micro-batches per optimizer step", between(1, 1 << 20)),
           key("max_grad_norm", 1.0, "clip the global gradient norm to this; 0 = no clipping", at_least(0.0)),
           key("epochs", integer(1), "passes over the iteration's pairs", between(1, 10000)),
           key("max_length", integer(1300), "max prompt+response tokens; longer pairs are truncated (and counted)",
               between(1, 1 << 24)),
           key("trim_shared_prefix", false,
               "score chosen and rejected only from their first differing token (the shared start joins the prompt)"),
           key("save_steps", integer(0),
               "also checkpoint every N optimizer steps for resume; 0 = end of iteration only", at_least(0)),
           key("lora_rank", integer(0),
               "train LoRA adapters of this rank r instead of every weight (PEFT checkpoints); 0 = full fine-tuning",
               at_least(0)),
           key("lora_alpha", 16.0, "LoRA scaling: the update is (lora_alpha / lora_rank) B A x", at_least(0.0, false)),
           key("lora_dropout", 0.0, "dropout on the adapters' input while training", Bounds{0.0, 1.0, true, false}),
           key("lora_target_modules",
               std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
               "the linear layers that get adapters, by PEFT's names"),
           key("gradient_checkpointing", false,
               "recompute each decoder layer's activations in the backward pass (less memory, ~1 more forward)"),
       }},
      {"eval",
       {
           key("enabled", true, "evaluate before the first and after every iteration"),
           key("greedy", true, "report greedy accuracy"),
           key("samples", integer(0), "k sampled answers per item for sampled pass@1; 0 = off", between(0, 4096)),
           key("temperature", 0.6, "sampling temperature for sampled pass@1", at_least(0.0, false)),
           key("max_new_tokens", integer(512), "generation budget per answer", between(1, 1 << 24)),
           key("answer_regex", std::string(""),
               "regex whose first capture group is the answer; empty = the content of the last \\boxed{}"),
           key("stop", std::vector<std::string>{},
               "stop strings of every answer (e.g. the end-of-reasoning marker); the text is cut before them"),
           key("shots", integer(0), "few-shot exemplars written before every evaluation query; 0 = none",
               between(0, 1024)),
           path("shots_file", std::string(""),
                "JSONL of exemplars: a question/problem/instruction/prompt and its answer/solution/response/output"),
           choice("checker", "auto", checker_choices(),
                  "how answers are read and compared (docs/data.md); auto = by the item's layout (GSM8K, MATH, "
                  "multiple choice, yes/no; plain items: boxed, or regex with answer_regex)"),
       }},
      {"audit",
       {
           key("items", integer(0),
               "probe items the self-reward audit explores each iteration, before training (labels used to measure "
               "only); 0 = off",
               at_least(0)),
           path("file", std::string(""),
                "JSONL of labeled probe items (relative to the config file); \"\" = [data] eval"),
       }},
      {"distributed",
       {
           choice("backend", "auto", {"auto", "gloo", "nccl"},
                  "c10d backend of a job of several ranks (docs/distributed.md): gloo on cpu, nccl on cuda"),
           key("timeout_seconds", 300.0,
               "how long a rank waits for the others to meet or finish a collective; a rank whose heartbeat is "
               "silent for min(this, 30) s counts as gone",
               at_least(1.0)),
       }},
      {"pretrain",
       {
           key("task", std::string("arith"),
               "synthetic task whose solutions the base model is trained on (`genius data --list`)"),
           sized(key("levels", std::vector<std::int64_t>{},
                     "difficulty levels [min, max] to draw; empty = the task's default", at_least(0)),
                 0, 2),
           key("seed", integer(0), "seed of the problem stream (training order and weight init use [run] seed)",
               at_least(0)),
           key("examples", integer(20000), "solved problems to train on (each epoch)", between(1, 1 << 30)),
           path("out", std::string("model"), "directory the trained model is written to (relative to the config file)"),
           path("init_from", std::string(""),
                "start from this model directory's weights (same shape) instead of fresh ones: fine-tuning, e.g. a "
                "critic from the base model; \"\" = fresh weights from [run] seed"),
           path("slips", std::string(""),
                "critique tasks: the slip distribution (`genius slips --out`) their flawed solutions imitate; \"\" = "
                "the one built in (measured on examples/arith/base-model)"),
           // ... and the model keys of the [model] backend (its manifest's model_keys, config.cpp).
       }},
      {"model", {}},
      {"critic", {}},
      {"sampler", {}},
      {"value", {}},
      {"loss", {}},
  };
  return s;
}

}  // namespace

const std::vector<std::string>& config_sections() {
  static const std::vector<std::string> s = {"run",  "data",  "model", "critic", "sampler",     "value",
                                             "loss", "train", "eval",  "audit",  "distributed", "pretrain"};
  return s;
}

std::optional<PluginKind> plugin_kind_of_section(const std::string& section) {
  if (section == "critic") return PluginKind::ModelBackend;  // a second model, for plugins that ask for it
  for (PluginKind k : {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator, PluginKind::Loss})
    if (section == config_section(k)) return k;
  return std::nullopt;
}

const std::vector<TableArraySpec>& core_table_arrays(const std::string& section) {
  static const std::vector<TableArraySpec> none;
  static const std::vector<TableArraySpec> eval = {
      {"sets",
       {
           key("name", std::string(""),
               "the benchmark's name: its column in the benchmark table, its metrics' prefix (name/greedy_accuracy)"),
           path("file", std::string(""), "its labeled items (a benchmark's layout or plain JSONL, docs/data.md)"),
           choice("checker", "auto", checker_choices(), "how its answers are read and compared; auto = by layout"),
           key("shots", integer(0), "few-shot exemplars before each of its queries; 0 = none", at_least(0)),
           path("shots_file", std::string(""), "its exemplars (JSONL), needed when shots > 0"),
           key("max_items", integer(0), "evaluate at most this many of its items (the first ones); 0 = all",
               at_least(0)),
       },
       {"name", "file"},
       {"average"},
       "benchmarks evaluated beside [data] eval at every evaluation, each with its own checker and shots"},
  };
  return section == "eval" ? eval : none;
}

const std::vector<ConfigKey>& core_keys(const std::string& section) {
  static const Keys none;
  const auto& s = schema();
  auto it = s.find(section);
  return it == s.end() ? none : it->second;
}

}  // namespace genius::core
