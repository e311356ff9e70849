// Commands that work on a model directory through a model backend plugin:
//   genius init-model   write a randomly initialised model in the Hugging Face format
//   genius tokenize     token ids of a text
//   genius generate     sample continuations
//   genius logprobs     per-token log-probs of a completion
//   genius bench generate   prefill / decode throughput, against the matmul and weight-streaming bounds
//   genius bench explore    (bench_explore_command.cpp)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <genius/model_backend.hpp>

#include "bench.hpp"
#include "cli.hpp"
#include "config/config.hpp"
#include "io/durable_dir.hpp"
#include "io/errors.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {

std::shared_ptr<ModelBackend> load_backend(const core::PluginRegistry& registry, const std::string& backend,
                                           const std::filesystem::path& dir, std::vector<std::string> extra) {
  extra.insert(extra.begin(), "model.path=" + std::filesystem::absolute(dir).string());
  const std::string name = core::choose_backend(registry, backend);
  const core::RawConfig raw =
      core::RawConfig::parse("[model]\nplugin = " + format_value(name) + "\n", "--backend", extra);
  const core::ResolvedConfig config = core::validate(raw, registry);
  return core::create_configured<ModelBackend>(registry, config, PluginKind::ModelBackend);
}

namespace {

namespace fs = std::filesystem;

// Options shared by every model command.
void add_model_options(po::options_description& options) {
  options.add_options()("model", po::value<std::string>()->value_name("DIR"), "model directory (Hugging Face format)")(
      "backend", po::value<std::string>()->default_value("")->value_name("NAME"),
      "model backend plugin (default: the only one installed)")(
      "set", po::value<std::vector<std::string>>()->value_name("model.KEY=VALUE"),
      "backend key, e.g. model.dtype=bfloat16 (repeatable)")("adapter", po::value<std::string>()->value_name("DIR"),
                                                             "a LoRA adapter (PEFT directory) on top of --model");
}

std::vector<std::string> overrides(const po::variables_map& vm) {
  return vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// The backend for `dir`, from the installed plugins.
std::shared_ptr<ModelBackend> load_backend(const std::string& backend, const std::string& dir,
                                           const std::vector<std::string>& extra) {
  core::PluginRegistry registry = core::discover_plugins({});
  registry.throw_if_errors();
  return cli::load_backend(registry, backend, dir, extra);
}

// The backend of the model options, with --adapter loaded onto it.
std::shared_ptr<ModelBackend> load_model(const po::variables_map& vm) {
  return core::as_input_error([&] {
    auto backend = load_backend(vm["backend"].as<std::string>(), vm["model"].as<std::string>(), overrides(vm));
    if (vm.count("adapter")) backend->load_weights(vm["adapter"].as<std::string>());
    return backend;
  });
}

template <class Body>
int guarded(const std::string& command, Body body) {
  try {
    return body();
  } catch (const core::ConfigValidationError& e) {
    std::cerr << core::describe(e) << "\n";
  } catch (const core::PluginLoadError& e) {
    std::cerr << core::describe(e) << "\n";
  }
  (void)command;
  return core::kExitUsageError;
}

std::string read_text(const po::variables_map& vm) {
  if (vm.count("text")) return vm["text"].as<std::string>();
  return read_flag_file("file", vm["file"].as<std::string>());
}

}  // namespace

// ------------------------------------------------------------------- tokenize

int tokenize_command(const Args& args) {
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("text", po::value<std::string>(), "text to encode")(
      "file", po::value<std::string>(), "encode the content of this file")("json", "print a JSON object");
  const Parsed vm = parse("tokenize", "--model DIR (--text T | --file F) [--json]", args, options,
                          [&](const po::variables_map& given) {
                            if (!given.count("model")) throw po::error("missing --model DIR");
                            if (given.count("text") == given.count("file"))
                              throw po::error("give exactly one of --text, --file");
                          });
  if (!vm) return vm.exit_code;
  return guarded("tokenize", [&] {
    std::string text;
    try {
      text = read_text(*vm);
    } catch (const po::error& e) {
      return usage_error("tokenize", e.what());
    }
    auto backend = load_model(*vm);
    const std::vector<TokenId> ids = backend->encode(text);
    if (vm->count("json")) {
      std::cout << nlohmann::json({{"ids", ids}, {"count", ids.size()}}).dump() << "\n";
    } else {
      for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
      std::cout << "\n";
    }
    return int(core::kExitOk);
  });
}

// ------------------------------------------------------------------- generate

int generate_command(const Args& args) {
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("prompt", po::value<std::string>(), "prompt text")(
      "chat", "wrap the prompt as a user message with the model's chat template")(
      "n", po::value<int>()->default_value(1), "samples")("temperature", po::value<double>()->default_value(0.0),
                                                          "0 = greedy")(
      "top-p", po::value<double>()->default_value(1.0), "nucleus mass")(
      "max-new-tokens", po::value<int>()->default_value(128), "generation budget")(
      "stop", po::value<std::vector<std::string>>(), "stop string (repeatable)")(
      "seed", po::value<std::uint64_t>()->default_value(0), "sampling seed")("json", "print JSON");
  const Parsed vm = parse("generate",
                          "--model DIR --prompt T [--chat] [--n N] [--temperature X] [--max-new-tokens N] "
                          "[--stop S]... [--seed S] [--json]",
                          args, options, [&](const po::variables_map& given) {
                            if (!given.count("model") || !given.count("prompt"))
                              throw po::error("--model and --prompt are required");
                            check_range(given, "n", 1, 4096);
                            check_range(given, "temperature", 0);
                            check_range(given, "top-p", 1e-9, 1);
                            check_range(given, "max-new-tokens", 1);
                          });
  if (!vm) return vm.exit_code;
  return guarded("generate", [&] {
    auto backend = load_model(*vm);
    const std::string prompt = (*vm)["prompt"].as<std::string>();
    GenerationRequest request;
    request.prompt_ids = backend->encode(vm->count("chat") ? backend->format_chat(prompt) : prompt);
    request.n = (*vm)["n"].as<int>();
    request.temperature = (*vm)["temperature"].as<double>();
    request.top_p = (*vm)["top-p"].as<double>();
    request.max_new_tokens = (*vm)["max-new-tokens"].as<int>();
    if (vm->count("stop")) request.stop = (*vm)["stop"].as<std::vector<std::string>>();
    request.seed = (*vm)["seed"].as<std::uint64_t>();
    const GenerationResult result = backend->generate({request}).at(0);
    if (vm->count("json")) {
      nlohmann::json samples = nlohmann::json::array();
      for (const auto& s : result.samples)
        samples.push_back({{"text", s.text},
                           {"token_ids", s.token_ids},
                           {"num_tokens", s.num_tokens()},
                           {"cumulative_logprob", s.cumulative_logprob},
                           {"finish_reason", to_string(s.finish_reason)}});
      std::cout << nlohmann::json({{"prompt_tokens", request.prompt_ids.size()}, {"samples", samples}}).dump(2) << "\n";
    } else {
      for (std::size_t i = 0; i < result.samples.size(); ++i) {
        const auto& s = result.samples[i];
        if (result.samples.size() > 1) std::cout << "--- sample " << i << "\n";
        std::cout << s.text << "\n";
        std::fprintf(stderr, "[%d tokens, logprob %.4f, %s]\n", s.num_tokens(), s.cumulative_logprob,
                     to_string(s.finish_reason));
      }
    }
    return int(core::kExitOk);
  });
}

// ------------------------------------------------------------------- logprobs

int logprobs_command(const Args& args) {
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("prompt", po::value<std::string>(), "prompt text")("completion", po::value<std::string>(),
                                                                           "text whose tokens are scored")(
      "chat", "wrap the prompt with the model's chat template")("json", "print JSON");
  const Parsed vm = parse("logprobs", "--model DIR --prompt T --completion T [--chat] [--json]", args, options,
                          [&](const po::variables_map& given) {
                            if (!given.count("model") || !given.count("prompt") || !given.count("completion"))
                              throw po::error("--model, --prompt and --completion are required");
                          });
  if (!vm) return vm.exit_code;
  return guarded("logprobs", [&] {
    auto backend = load_model(*vm);
    const std::string prompt = (*vm)["prompt"].as<std::string>();
    // Prompt and completion are encoded separately, as the trainer scores pairs.
    ScoringExample ex{backend->encode(vm->count("chat") ? backend->format_chat(prompt) : prompt),
                      backend->encode((*vm)["completion"].as<std::string>())};
    const std::vector<double> logps = backend->token_logprobs({ex}).at(0);
    double sum = 0;
    nlohmann::json tokens = nlohmann::json::array();
    for (std::size_t i = 0; i < logps.size(); ++i) {
      sum += logps[i];
      tokens.push_back(
          {{"id", ex.response_ids[i]}, {"text", backend->decode({ex.response_ids[i]})}, {"logprob", logps[i]}});
    }
    if (vm->count("json")) {
      std::cout << nlohmann::json(
                       {{"tokens", tokens}, {"sum", sum}, {"mean", logps.empty() ? 0.0 : sum / double(logps.size())}})
                       .dump(2)
                << "\n";
    } else {
      for (const auto& t : tokens)
        std::printf("%8d  %12.6f  %s\n", t["id"].get<int>(), t["logprob"].get<double>(), t["text"].dump().c_str());
      std::printf("sum %.6f over %zu tokens\n", sum, logps.size());
    }
    return int(core::kExitOk);
  });
}

// ---------------------------------------------------------------- bench

int bench_command(const Args& args) {
  if (!args.empty() && args[0] == "explore") return bench_explore_command(Args(args.begin() + 1, args.end()));
  if (!args.empty() && args[0] == "train") return bench_train_command(Args(args.begin() + 1, args.end()));
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("what", po::value<std::string>(), "generate | explore (`genius bench explore --help`)")(
      "batch", po::value<std::vector<int>>()->multitoken(), "batch sizes (default: 1 16 64)")(
      "prompt-tokens", po::value<int>()->default_value(64), "prompt length")(
      "new-tokens", po::value<int>()->default_value(64), "tokens generated per sequence");
  po::positional_options_description positional;
  positional.add("what", 1);
  const Parsed vm = parse("bench",
                          "generate --model DIR [--batch B...] [--prompt-tokens P] [--new-tokens N]\n"
                          "       genius bench explore CONFIG [--queries N] [--json] [--set SECTION.KEY=VALUE]...",
                          args, options, positional, [&](const po::variables_map& given) {
                            const std::string expected =
                                "expected `genius bench generate ...`, `genius bench explore ...` or `genius bench "
                                "train ...`";
                            if (!given.count("what")) throw po::error(expected);
                            if (const std::string what = given["what"].as<std::string>(); what != "generate")
                              throw po::error("unknown benchmark '" + what + "'; " + expected);
                            if (!given.count("model")) throw po::error("missing --model DIR");
                            for (const char* k : {"batch", "prompt-tokens", "new-tokens"}) check_range(given, k, 1);
                          });
  if (!vm) return vm.exit_code;
  return guarded("bench", [&] {
    core::PluginRegistry registry = core::discover_plugins({});
    registry.throw_if_errors();
    // The same prompts run several times: a prefix cache would serve the
    // repeats, so the backend computes every prefill (unless --set says otherwise).
    std::vector<std::string> extra = overrides(*vm);
    const std::string name = core::choose_backend(registry, (*vm)["backend"].as<std::string>());
    if (plugin_declares_key(registry, PluginKind::ModelBackend, name, "prefix_cache"))
      extra.insert(extra.begin(), "model.prefix_cache=false");
    auto backend = core::as_input_error(
        [&] { return cli::load_backend(registry, name, (*vm)["model"].as<std::string>(), extra); });
    const std::int64_t params = parameter_count(*backend), weight_bytes = parameter_bytes(*backend);
    const double peak = measured_matmul_gflops(backend->device(), backend->dtype()),
                 bandwidth = measured_read_gbps(backend->device());
    const int prompt_tokens = (*vm)["prompt-tokens"].as<int>(), new_tokens = (*vm)["new-tokens"].as<int>();
    const std::vector<int> batches =
        vm->count("batch") ? (*vm)["batch"].as<std::vector<int>>() : std::vector<int>{1, 16, 64};
    std::printf(
        "model %s: %.2fM parameters (%.1f MiB), %s %s, %d threads; measured matmul peak %.1f GFLOP/s, "
        "memory read %.1f GB/s\n",
        (*vm)["model"].as<std::string>().c_str(), double(params) / 1e6, double(weight_bytes) / 1048576.0,
        backend->device().c_str(), backend->dtype().c_str(), at::get_num_threads(), peak, bandwidth);
    std::printf("%6s %8s %8s %14s %14s %10s %12s %11s\n", "batch", "prompt", "new", "prefill tok/s", "decode tok/s",
                "% of peak", "bound tok/s", "% of bound");
    auto run = [&](int batch, int max_new) {
      std::vector<GenerationRequest> requests(static_cast<std::size_t>(batch));
      for (int b = 0; b < batch; ++b) {
        auto& r = requests[static_cast<std::size_t>(b)];
        for (int t = 0; t < prompt_tokens; ++t)
          r.prompt_ids.push_back(
              static_cast<TokenId>((b * 131 + t * 7 + 1) % std::max<std::int64_t>(2, backend->vocab_size() - 1)));
        r.temperature = 0;
        r.max_new_tokens = max_new;
        r.ignore_eos = true;
      }
      const auto start = std::chrono::steady_clock::now();
      backend->generate(requests);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    for (int batch : batches) {
      // The warm-up: a backend that refuses these requests (a prompt longer
      // than the model's positions) refuses the flags.
      core::as_input_error([&] { return run(batch, 1); });
      const double prefill = run(batch, 1);
      const double total = run(batch, new_tokens);
      const double prefill_rate = double(batch) * prompt_tokens / prefill;
      const double decode_rate = double(batch) * (new_tokens - 1) / std::max(1e-9, total - prefill);
      // A decoded token costs about 2 FLOPs per parameter (the matrix products).
      const double share = 100.0 * decode_rate * 2.0 * double(params) / 1e9 / peak;
      // A decode step reads every weight once for the whole batch: at most
      // batch * bandwidth / weight bytes tokens per second.
      const double bound = double(batch) * bandwidth * 1e9 / double(std::max<std::int64_t>(1, weight_bytes));
      std::printf("%6d %8d %8d %14.1f %14.1f %9.1f%% %12.1f %10.1f%%\n", batch, prompt_tokens, new_tokens, prefill_rate,
                  decode_rate, share, bound, 100.0 * decode_rate / bound);
    }
    return int(core::kExitOk);
  });
}

}  // namespace genius::cli

namespace genius::cli {

// -------------------------------------------------------------- merge-adapter

int merge_adapter_command(const Args& args) {
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("out", po::value<std::string>()->value_name("DIR"), "the merged model's directory (new)");
  const Parsed vm = parse("merge-adapter", "--model BASE --adapter DIR --out MERGED", args, options,
                          [&](const po::variables_map& given) {
                            if (!given.count("model") || !given.count("adapter") || !given.count("out"))
                              throw po::error("--model, --adapter and --out are required");
                          });
  if (!vm) return vm.exit_code;
  const fs::path out = (*vm)["out"].as<std::string>();
  if (fs::exists(out) && !fs::is_empty(out))
    return usage_error("merge-adapter", "--out '" + out.string() + "' exists and is not empty");
  if (const fs::path adapter = (*vm)["adapter"].as<std::string>();
      !fs::is_regular_file(adapter / "adapter_config.json"))
    return usage_error("merge-adapter",
                       "--adapter '" + adapter.string() + "' is not a PEFT adapter directory (no adapter_config.json)");
  return guarded("merge-adapter", [&] {
    auto backend = load_model(*vm);
    backend->merge_lora();
    // Written beside the target and renamed into place: no half-written model.
    const fs::path staging = out.parent_path() / ("." + out.filename().string() + ".partial");
    fs::remove_all(staging);
    backend->save(staging);
    core::replace_directory(staging, out);
    std::printf("merged %s + %s -> %s\n", (*vm)["model"].as<std::string>().c_str(),
                (*vm)["adapter"].as<std::string>().c_str(), out.string().c_str());
    return int(core::kExitOk);
  });
}

}  // namespace genius::cli
