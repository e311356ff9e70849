// genius bench train --model DIR [--batch B] [--prompt-tokens P] [--response-tokens R] [--steps N]
//                    [--lora-rank R] [--lora-alpha A] [--gradient-checkpointing] [--json]
//
// What one training step of the backend costs: AdamW steps on a synthetic
// batch of B (prompt, response) sequences (the response's log-probs are the
// loss), measuring the step's time and the process's peak resident memory
// from the first step on (weights, gradients, optimizer state, activations).
// One configuration per process, so that each peak is its own.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <genius/model_backend.hpp>

#include "bench.hpp"
#include "cli.hpp"
#include "io/process_memory.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {

int bench_train_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("model", po::value<std::string>()->value_name("DIR"), "model directory")(
      "backend", po::value<std::string>()->default_value(""), "model backend plugin")(
      "set", po::value<std::vector<std::string>>()->value_name("model.KEY=VALUE"), "backend key (repeatable)")(
      "batch", po::value<int>()->default_value(16), "sequences per step")(
      "prompt-tokens", po::value<int>()->default_value(40), "prompt length")(
      "response-tokens", po::value<int>()->default_value(200), "response length (scored)")(
      "steps", po::value<int>()->default_value(3), "optimizer steps (the first warms up)")(
      "lora-rank", po::value<int>()->default_value(0), "train LoRA adapters of this rank on all 7 modules")(
      "lora-alpha", po::value<double>()->default_value(32.0), "their alpha")(
      "gradient-checkpointing", "recompute activations in the backward pass")("json", "print JSON");
  const Parsed vm = parse("bench train", "--model DIR [--batch B] [--lora-rank R] [--gradient-checkpointing] [--json]",
                          args, options, [](const po::variables_map& given) {
                            if (!given.count("model")) throw po::error("missing --model DIR");
                            for (const char* k : {"batch", "prompt-tokens", "response-tokens", "steps"})
                              check_range(given, k, 1);
                            check_range(given, "lora-rank", 0);
                            check_range(given, "lora-alpha", 1e-9);
                          });
  if (!vm) return vm.exit_code;
  core::PluginRegistry registry = core::discover_plugins({});
  registry.throw_if_errors();
  const std::vector<std::string> extra =
      vm->count("set") ? (*vm)["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto backend = load_backend(registry, (*vm)["backend"].as<std::string>(), (*vm)["model"].as<std::string>(), extra);
  const int lora_rank = (*vm)["lora-rank"].as<int>();
  const bool checkpointing = vm->count("gradient-checkpointing") > 0;
  if (lora_rank > 0) {
    LoraOptions lora;
    lora.rank = lora_rank;
    lora.alpha = (*vm)["lora-alpha"].as<double>();
    lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    backend->add_lora(lora);
  }
  if (checkpointing) backend->set_gradient_checkpointing(true);

  const int batch = (*vm)["batch"].as<int>(), prompt = (*vm)["prompt-tokens"].as<int>(),
            response = (*vm)["response-tokens"].as<int>(), steps = (*vm)["steps"].as<int>();
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<TokenId> token(
      0, static_cast<TokenId>(std::min<std::int64_t>(backend->vocab_size(), 256) - 1));
  std::vector<ScoringExample> examples(static_cast<std::size_t>(batch));
  for (ScoringExample& e : examples) {
    for (int i = 0; i < prompt; ++i) e.prompt_ids.push_back(token(rng));
    for (int i = 0; i < response; ++i) e.response_ids.push_back(token(rng));
  }
  const std::vector<at::Tensor> parameters = backend->parameters();
  std::int64_t trainable = 0;
  for (const at::Tensor& p : parameters) trainable += p.numel();
  torch::optim::AdamW optimizer(parameters, torch::optim::AdamWOptions(1e-5));
  backend->set_training(true);
  core::reset_peak_rss();
  double seconds = 0;
  for (int step = 0; step < steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    optimizer.zero_grad();
    const at::Tensor loss = -backend->sequence_logprobs(examples).mean();
    loss.backward();
    optimizer.step();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step > 0 || steps == 1) seconds += s;  // the first step warms up (allocations, AdamW state)
  }
  const int timed = steps > 1 ? steps - 1 : 1;
  const double per_step = seconds / timed;
  const double tokens_per_second = double(batch) * (prompt + response) / per_step;
  const double peak = core::peak_rss_mib().value_or(0.0);
  const nlohmann::json result = {{"model", (*vm)["model"].as<std::string>()},
                                 {"parameters", parameter_count(*backend)},
                                 {"trainable", trainable},
                                 {"lora_rank", lora_rank},
                                 {"gradient_checkpointing", checkpointing},
                                 {"batch", batch},
                                 {"tokens_per_step", batch * (prompt + response)},
                                 {"threads", at::get_num_threads()},
                                 {"seconds_per_step", per_step},
                                 {"tokens_per_second", tokens_per_second},
                                 {"peak_rss_mib", peak}};
  if (vm->count("json")) {
    std::cout << result.dump() << "\n";
    return core::kExitOk;
  }
  std::printf("%-10s %-8s %12s %10s %12s %14s\n", "lora_rank", "ckpt", "trainable", "s/step", "tokens/s",
              "peak RSS MiB");
  std::printf("%-10d %-8s %11.2fM %10.2f %12.0f %14.0f\n", lora_rank, checkpointing ? "yes" : "no",
              double(trainable) / 1e6, per_step, tokens_per_second, peak);
  return core::kExitOk;
}

}  // namespace genius::cli
