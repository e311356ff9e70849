// genius — unsupervised LLM self-training (Genius: foresight re-sampling + ACO).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>

#include <genius/abi.hpp>

#include "cli.hpp"
#include "dist/cluster.hpp"
#include "io/errors.hpp"
#include "io/logging.hpp"

namespace {

using genius::cli::Args;

struct Command {
  std::function<int(const Args&)> run;
  const char* summary;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> c = {
      {"plugins", {genius::cli::plugins_command, "list the available plugins with their config keys"}},
      {"config", {genius::cli::config_command, "validate a run config (`genius config check FILE`)"}},
      {"run", {genius::cli::run_command, "run the self-training loop described by a TOML file"}},
      {"sweep", {genius::cli::sweep_command, "run a grid of configs (axes, seeds) and tabulate them"}},
      {"explore", {genius::cli::explore_command, "stage: explore the training queries (records.jsonl)"}},
      {"pairs", {genius::cli::pairs_command, "stage: build preference pairs from the records (pairs.jsonl)"}},
      {"train", {genius::cli::train_command, "stage: train the policy on the pairs"}},
      {"eval", {genius::cli::eval_command, "stage: evaluate a policy on the labeled eval set"}},
      {"audit", {genius::cli::audit_command, "measure the self-reward against labels (`genius audit FILE`)"}},
      {"loss", {genius::cli::loss_command, "evaluate a loss plugin on given log-probs (`genius loss eval`)"}},
      {"tokenize", {genius::cli::tokenize_command, "token ids of a text under a model's tokenizer"}},
      {"generate", {genius::cli::generate_command, "sample continuations of a prompt from a model"}},
      {"logprobs", {genius::cli::logprobs_command, "per-token log-probs of a completion given a prompt"}},
      {"init-model", {genius::cli::init_model_command, "write a randomly initialised model (HF format)"}},
      {"data",
       {genius::cli::data_command, "write a synthetic reasoning task's queries and eval set (`genius data arith`)"}},
      {"pretrain", {genius::cli::pretrain_command, "train a small base model on a synthetic task (configs/base.toml)"}},
      {"bench",
       {genius::cli::bench_command, "measure generation and exploration throughput (`genius bench generate|explore`)"}},
      {"slips", {genius::cli::slips_command, "measure a model's first-error (slip) distribution on arith queries"}},
      {"critic-eval",
       {genius::cli::critic_eval_command, "measure a step-level critic: step AUC, first-error accuracy, F1"}},
      {"decode", {genius::cli::decode_command, "answer [data] eval with a decoding method; accuracy and cost"}},
      {"new-plugin", {genius::cli::new_plugin_command, "write an out-of-tree plugin project to start from"}},
      {"answer", {genius::cli::answer_command, "what a benchmark checker reads from a response, and its verdict"}},
      {"merge-adapter",
       {genius::cli::merge_adapter_command, "fold a LoRA adapter into its base model (a full Hugging Face model)"}},
      {"launch",
       {genius::cli::launch_command, "start N local ranks of a command (`genius launch --nproc 2 -- run cfg.toml`)"}},
  };
  return c;
}

void print_help() {
  std::cout << "genius " GENIUS_SDK_VERSION
               " - unsupervised LLM self-training (foresight re-sampling + ACO)\n\n"
               "Usage: genius [--version] [--help] <command> [<args>]\n\nCommands:\n";
  for (const auto& [name, command] : commands()) std::printf("  %-13s %s\n", name.c_str(), command.summary);
  std::cout << "\nRun `genius <command> --help` for a command's options.\n"
               "Exit codes: 0 ok, 1 run failed (`config check`: config invalid), 2 usage or config error.\n"
               "Plugins are searched beside the executable (../lib/genius/plugins), then in\n"
               "GENIUS_PLUGIN_PATH (':'-separated), then in [run] plugin_path of the config.\n";
}

}  // namespace

int main(int argc, char** argv) {
  genius::core::setup_console_logging(spdlog::level::info);
  Args args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? genius::core::kExitUsageError : genius::core::kExitOk;
  }
  if (args[0] == "--version" || args[0] == "-V") {
    std::cout << "genius " GENIUS_SDK_VERSION " (SDK ABI " << GENIUS_SDK_ABI_VERSION << ", libtorch "
              << GENIUS_TORCH_VERSION << ")\n";
    return genius::core::kExitOk;
  }
  const auto it = commands().find(args[0]);
  if (it == commands().end()) {
    std::cerr << "genius: unknown command '" << args[0] << "'; run `genius --help` for the list\n";
    return genius::core::kExitUsageError;
  }
  // Under torchrun, SLURM or `genius launch` only the run commands share work.
  if (!genius::cli::is_distributed_command(args[0]) && args[0] != "launch" &&
      std::find(args.begin(), args.end(), "--help") == args.end()) {
    try {
      const int world = genius::core::ClusterSpec::from_environment().world;
      if (world > 1) {
        std::cerr << "genius " << args[0] << " runs as one process, but WORLD_SIZE (or SLURM_NTASKS) is " << world
                  << ": only run, explore, pairs, train and eval run on several ranks\n";
        return genius::core::kExitUsageError;
      }
    } catch (const std::exception& e) {
      std::cerr << "genius: " << genius::core::describe(e) << "\n";
      return genius::core::kExitUsageError;
    }
  }
  try {
    return it->second.run(Args(args.begin() + 1, args.end()));
  } catch (const genius::core::InputError& e) {
    spdlog::error("{}", e.what());
    return genius::core::kExitUsageError;
  } catch (const std::exception& e) {
    spdlog::error("{}", genius::core::describe(e));
    return genius::core::kExitRunFailed;
  }
}
