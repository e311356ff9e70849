// Commands that work on a model directory through a model backend plugin:
//   genius init-model   write a randomly initialised model in the Hugging Face format
//   genius tokenize     token ids of a text
//   genius generate     sample continuations
//   genius logprobs     per-token log-probs of a completion
//   genius bench generate   prefill / decode throughput
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <genius/model_backend.hpp>

#include "../src/config.hpp"
#include "../src/plugin_registry.hpp"
#include "chat_template.hpp"
#include "cli.hpp"
#include "tokenizer.hpp"

namespace genius::cli {
namespace {

namespace fs = std::filesystem;

// Options shared by every model command.
void add_model_options(po::options_description& options) {
  options.add_options()("model", po::value<std::string>()->value_name("DIR"), "model directory (Hugging Face format)")(
      "backend", po::value<std::string>()->default_value("torch-llama")->value_name("NAME"), "model backend plugin")(
      "set", po::value<std::vector<std::string>>()->value_name("model.KEY=VALUE"),
      "backend key, e.g. model.dtype=bfloat16 (repeatable)");
}

std::vector<std::string> overrides(const po::variables_map& vm) {
  return vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// The backend for `dir`, configured like a run's [model] section.
std::shared_ptr<ModelBackend> load_backend(const std::string& backend, const std::string& dir,
                                           std::vector<std::string> extra) {
  extra.insert(extra.begin(), "model.path=" + fs::absolute(dir).string());
  const core::RawConfig raw =
      core::RawConfig::parse("[model]\nplugin = " + format_value(backend) + "\n", "--backend", extra);
  core::PluginRegistry registry = core::discover_plugins(raw.plugin_path());
  registry.throw_if_errors();
  const core::ResolvedConfig config = core::validate(raw, registry);
  return core::create_configured<ModelBackend>(registry, config, PluginKind::ModelBackend);
}

template <class Body>
int guarded(const std::string& command, Body body) {
  try {
    return body();
  } catch (const core::ConfigValidationError& e) {
    std::cerr << e.what() << "\n";
  } catch (const core::PluginLoadError& e) {
    std::cerr << e.what() << "\n";
  }
  (void)command;
  return core::kExitUsageError;
}

std::string read_text(const po::variables_map& vm) {
  if (vm.count("text")) return vm["text"].as<std::string>();
  std::ifstream in(vm["file"].as<std::string>(), std::ios::binary);
  if (!in) throw po::error("cannot read --file '" + vm["file"].as<std::string>() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// ------------------------------------------------------------------- tokenize

int tokenize_command(const Args& args) {
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("text", po::value<std::string>(), "text to encode")(
      "file", po::value<std::string>(), "encode the content of this file")("json", "print a JSON object");
  std::optional<po::variables_map> vm;
  try {
    vm = parse("tokenize", "--model DIR (--text T | --file F) [--json]", args, options);
    if (vm && !vm->count("model")) throw po::error("missing --model DIR");
    if (vm && vm->count("text") == vm->count("file")) throw po::error("give exactly one of --text, --file");
  } catch (const po::error& e) {
    return usage_error("tokenize", e.what());
  }
  if (!vm) return core::kExitOk;
  return guarded("tokenize", [&] {
    std::string text;
    try {
      text = read_text(*vm);
    } catch (const po::error& e) {
      return usage_error("tokenize", e.what());
    }
    auto backend = load_backend((*vm)["backend"].as<std::string>(), (*vm)["model"].as<std::string>(), overrides(*vm));
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
      "n", po::value<int>()->default_value(1), "samples")(
      "temperature", po::value<double>()->default_value(0.0), "0 = greedy")(
      "top-p", po::value<double>()->default_value(1.0), "nucleus mass")(
      "max-new-tokens", po::value<int>()->default_value(128), "generation budget")(
      "stop", po::value<std::vector<std::string>>(), "stop string (repeatable)")(
      "seed", po::value<std::uint64_t>()->default_value(0), "sampling seed")("json", "print JSON");
  std::optional<po::variables_map> vm;
  try {
    vm = parse("generate", "--model DIR --prompt T [--chat] [--n N] [--temperature X] [--max-new-tokens N] "
                           "[--stop S]... [--seed S] [--json]",
               args, options);
    if (vm && (!vm->count("model") || !vm->count("prompt"))) throw po::error("--model and --prompt are required");
  } catch (const po::error& e) {
    return usage_error("generate", e.what());
  }
  if (!vm) return core::kExitOk;
  return guarded("generate", [&] {
    auto backend = load_backend((*vm)["backend"].as<std::string>(), (*vm)["model"].as<std::string>(), overrides(*vm));
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
        samples.push_back({{"text", s.text}, {"token_ids", s.token_ids}, {"num_tokens", s.num_tokens()},
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
  options.add_options()("prompt", po::value<std::string>(), "prompt text")(
      "completion", po::value<std::string>(), "text whose tokens are scored")(
      "chat", "wrap the prompt with the model's chat template")("json", "print JSON");
  std::optional<po::variables_map> vm;
  try {
    vm = parse("logprobs", "--model DIR --prompt T --completion T [--chat] [--json]", args, options);
    if (vm && (!vm->count("model") || !vm->count("prompt") || !vm->count("completion")))
      throw po::error("--model, --prompt and --completion are required");
  } catch (const po::error& e) {
    return usage_error("logprobs", e.what());
  }
  if (!vm) return core::kExitOk;
  return guarded("logprobs", [&] {
    auto backend = load_backend((*vm)["backend"].as<std::string>(), (*vm)["model"].as<std::string>(), overrides(*vm));
    const std::string prompt = (*vm)["prompt"].as<std::string>();
    // Prompt and completion are encoded separately, as the trainer scores pairs.
    ScoringExample ex{backend->encode(vm->count("chat") ? backend->format_chat(prompt) : prompt),
                      backend->encode((*vm)["completion"].as<std::string>())};
    const std::vector<double> logps = backend->token_logprobs({ex}).at(0);
    double sum = 0;
    nlohmann::json tokens = nlohmann::json::array();
    for (std::size_t i = 0; i < logps.size(); ++i) {
      sum += logps[i];
      tokens.push_back({{"id", ex.response_ids[i]}, {"text", backend->decode({ex.response_ids[i]})}, {"logprob", logps[i]}});
    }
    if (vm->count("json")) {
      std::cout << nlohmann::json({{"tokens", tokens}, {"sum", sum}, {"mean", logps.empty() ? 0.0 : sum / double(logps.size())}})
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

// ----------------------------------------------------------------- init-model

void write_model_skeleton(const ModelSkeleton& spec, const fs::path& out) {
  fs::create_directories(out);
  // 1. The tokenizer (and its chat template).
  std::int64_t vocab_size = 0;
  std::optional<std::int64_t> bos, eos;
  if (spec.vocab == "bytes") {
    const auto family = llama::parse_chat_family(spec.chat_template);
    if (!family) throw po::error("the chat template of a byte vocabulary must be plain or chatml, not '" +
                                 spec.chat_template + "'");
    llama::Tokenizer tok = llama::Tokenizer::byte_level({"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, "",
                                                        *family == llama::ChatFamily::ChatML ? "<|im_end|>" : "<|endoftext|>");
    tok.save(out);
    nlohmann::json config = nlohmann::json::parse(std::ifstream(out / "tokenizer_config.json"));
    config["chat_template"] = llama::jinja_chat_template(*family);
    std::ofstream(out / "tokenizer_config.json") << config.dump(2) << "\n";
    vocab_size = tok.vocab_size();
    if (auto id = tok.eos_id()) eos = *id;
  } else {
    const fs::path file = spec.vocab, dir = file.parent_path();
    const llama::Tokenizer tok = llama::Tokenizer::from_file(file, fs::exists(dir / "tokenizer_config.json")
                                                                       ? dir / "tokenizer_config.json"
                                                                       : fs::path());
    fs::copy_file(file, out / "tokenizer.json", fs::copy_options::overwrite_existing);
    if (fs::exists(dir / "tokenizer_config.json"))
      fs::copy_file(dir / "tokenizer_config.json", out / "tokenizer_config.json", fs::copy_options::overwrite_existing);
    vocab_size = tok.vocab_size();
    if (auto id = tok.bos_id()) bos = *id;
    if (auto id = tok.eos_id()) eos = *id;
  }
  // 2. config.json (the backend rewrites it when it saves the weights).
  const std::int64_t intermediate =
      spec.intermediate > 0 ? spec.intermediate : (spec.hidden * 8 / 3 + 31) / 32 * 32;
  nlohmann::json config = {
      {"model_type", spec.arch},
      {"vocab_size", vocab_size},
      {"hidden_size", spec.hidden},
      {"intermediate_size", intermediate},
      {"num_hidden_layers", spec.layers},
      {"num_attention_heads", spec.heads},
      {"num_key_value_heads", spec.kv_heads > 0 ? spec.kv_heads : spec.heads},
      {"max_position_embeddings", spec.max_positions},
      {"rope_theta", spec.rope_theta},
      {"rms_norm_eps", 1e-6},
      {"hidden_act", "silu"},
      {"initializer_range", 0.02},
      {"tie_word_embeddings", spec.tied},
      {"torch_dtype", "float32"},
  };
  if (bos) config["bos_token_id"] = *bos;
  if (eos) config["eos_token_id"] = *eos;
  std::ofstream(out / "config.json") << config.dump(2) << "\n";
}

int init_model_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("arch", po::value<std::string>()->default_value("llama"), "llama | qwen2")(
      "hidden", po::value<std::int64_t>(), "hidden size")("layers", po::value<std::int64_t>(), "decoder layers")(
      "heads", po::value<std::int64_t>(), "attention heads")(
      "kv-heads", po::value<std::int64_t>(), "key/value heads (default: --heads)")(
      "intermediate", po::value<std::int64_t>(), "MLP width (default: 8/3 hidden, rounded up to 32)")(
      "vocab", po::value<std::string>()->default_value("bytes"),
      "bytes (256 byte tokens + <|endoftext|> <|im_start|> <|im_end|>) or PATH/tokenizer.json")(
      "chat-template", po::value<std::string>()->default_value("plain"), "bytes vocab: plain | chatml")(
      "max-positions", po::value<std::int64_t>()->default_value(2048), "max_position_embeddings")(
      "rope-theta", po::value<double>()->default_value(10000.0), "rotary base")(
      "untied", "separate lm_head (default: tied to the embedding)")(
      "seed", po::value<std::int64_t>()->default_value(0), "initialisation seed")(
      "out", po::value<std::string>(), "output directory (must not hold a model)")(
      "backend", po::value<std::string>()->default_value("torch-llama"), "backend that writes the weights");
  std::optional<po::variables_map> vm;
  try {
    vm = parse("init-model", "--arch llama|qwen2 --hidden H --layers L --heads A [--kv-heads K] "
                             "[--vocab bytes|PATH] --out DIR",
               args, options);
    if (vm)
      for (const char* required : {"hidden", "layers", "heads", "out"})
        if (!vm->count(required)) throw po::error(std::string("missing --") + required);
    if (vm && (*vm)["arch"].as<std::string>() != "llama" && (*vm)["arch"].as<std::string>() != "qwen2")
      throw po::error("--arch must be llama or qwen2");
  } catch (const po::error& e) {
    return usage_error("init-model", e.what());
  }
  if (!vm) return core::kExitOk;
  const fs::path out = (*vm)["out"].as<std::string>();
  if (fs::exists(out / "config.json")) {
    std::cerr << "init-model: '" << out.string() << "' already holds a model (config.json); choose another --out\n";
    return core::kExitUsageError;
  }
  ModelSkeleton spec;
  spec.arch = (*vm)["arch"].as<std::string>();
  spec.hidden = (*vm)["hidden"].as<std::int64_t>();
  spec.layers = (*vm)["layers"].as<std::int64_t>();
  spec.heads = (*vm)["heads"].as<std::int64_t>();
  if (vm->count("kv-heads")) spec.kv_heads = (*vm)["kv-heads"].as<std::int64_t>();
  if (vm->count("intermediate")) spec.intermediate = (*vm)["intermediate"].as<std::int64_t>();
  spec.vocab = (*vm)["vocab"].as<std::string>();
  spec.chat_template = (*vm)["chat-template"].as<std::string>();
  spec.max_positions = (*vm)["max-positions"].as<std::int64_t>();
  spec.rope_theta = (*vm)["rope-theta"].as<double>();
  spec.tied = !vm->count("untied");
  return guarded("init-model", [&]() -> int {
    try {
      write_model_skeleton(spec, out);
    } catch (const po::error& e) {
      return usage_error("init-model", e.what());
    }
    // Random weights, written by the backend (which also rewrites config.json).
    auto backend = load_backend((*vm)["backend"].as<std::string>(), out.string(),
                                {"model.init_random=true", "model.init_seed=" + std::to_string((*vm)["seed"].as<std::int64_t>())});
    backend->save(out);
    std::int64_t params = 0;
    for (const auto& p : backend->parameters()) params += p.numel();
    std::cout << "wrote " << out.string() << ": " << spec.arch << ", " << params << " parameters, vocabulary "
              << backend->vocab_size() << "\n";
    return int(core::kExitOk);
  });
}

// ---------------------------------------------------------------- bench

namespace {

// Sustained float32 matrix-product rate of this machine, GFLOP/s.
double measured_matmul_gflops() {
  const std::int64_t n = 1024;
  const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::mm(a, b);  // warm up
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < 1.0) {
    at::mm(a, b);
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return 2.0 * double(n * n * n) * reps / seconds / 1e9;
}

}  // namespace

int bench_command(const Args& args) {
  po::options_description options("Options");
  add_model_options(options);
  options.add_options()("what", po::value<std::string>(), "generate")(
      "batch", po::value<std::vector<int>>()->multitoken(), "batch sizes (default: 1 16 64)")(
      "prompt-tokens", po::value<int>()->default_value(64), "prompt length")(
      "new-tokens", po::value<int>()->default_value(64), "tokens generated per sequence");
  po::positional_options_description positional;
  positional.add("what", 1);
  std::optional<po::variables_map> vm;
  try {
    vm = parse("bench", "generate --model DIR [--batch B...] [--prompt-tokens P] [--new-tokens N]", args, options,
               positional);
    if (vm && (!vm->count("what") || (*vm)["what"].as<std::string>() != "generate"))
      throw po::error("expected `genius bench generate ...`");
    if (vm && !vm->count("model")) throw po::error("missing --model DIR");
  } catch (const po::error& e) {
    return usage_error("bench", e.what());
  }
  if (!vm) return core::kExitOk;
  return guarded("bench", [&] {
    auto backend = load_backend((*vm)["backend"].as<std::string>(), (*vm)["model"].as<std::string>(), overrides(*vm));
    std::int64_t params = 0;
    for (const auto& p : backend->parameters()) params += p.numel();
    const double peak = measured_matmul_gflops();
    const int prompt_tokens = (*vm)["prompt-tokens"].as<int>(), new_tokens = (*vm)["new-tokens"].as<int>();
    const std::vector<int> batches = vm->count("batch") ? (*vm)["batch"].as<std::vector<int>>() : std::vector<int>{1, 16, 64};
    std::printf("model %s: %.2fM parameters, %s %s, %d threads; measured matmul peak %.1f GFLOP/s\n",
                (*vm)["model"].as<std::string>().c_str(), double(params) / 1e6, backend->device().c_str(),
                backend->dtype().c_str(), at::get_num_threads(), peak);
    std::printf("%6s %8s %8s %14s %14s %10s\n", "batch", "prompt", "new", "prefill tok/s", "decode tok/s", "% of peak");
    auto run = [&](int batch, int max_new) {
      std::vector<GenerationRequest> requests(static_cast<std::size_t>(batch));
      for (int b = 0; b < batch; ++b) {
        auto& r = requests[static_cast<std::size_t>(b)];
        for (int t = 0; t < prompt_tokens; ++t)
          r.prompt_ids.push_back(static_cast<TokenId>((b * 131 + t * 7 + 1) % std::max<std::int64_t>(2, backend->vocab_size() - 1)));
        r.temperature = 0;
        r.max_new_tokens = max_new;
        r.ignore_eos = true;
      }
      const auto start = std::chrono::steady_clock::now();
      backend->generate(requests);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    for (int batch : batches) {
      run(batch, 1);  // warm-up
      const double prefill = run(batch, 1);
      const double total = run(batch, new_tokens);
      const double prefill_rate = double(batch) * prompt_tokens / prefill;
      const double decode_rate = double(batch) * (new_tokens - 1) / std::max(1e-9, total - prefill);
      // A decoded token costs about 2 FLOPs per parameter (the matrix products).
      const double share = 100.0 * decode_rate * 2.0 * double(params) / 1e9 / peak;
      std::printf("%6d %8d %8d %14.1f %14.1f %9.1f%%\n", batch, prompt_tokens, new_tokens, prefill_rate, decode_rate, share);
    }
    return int(core::kExitOk);
  });
}

}  // namespace genius::cli
