// @NAME@: a model backend for Genius (scaffolded by `genius new-plugin`).
//
// A byte-level bigram language model: one learned table W of shape [V, V],
// V = 256 byte tokens + 1 end token, and
//   p(next | previous) = softmax(W[previous])
// It tokenizes, generates (temperature, top-p, stop strings, seeds), scores
// differentiably, trains, saves and loads like a real backend, in one file.
// TODO: a real backend replaces W by a network over the whole prefix, the
// byte vocabulary by the model's tokenizer, format_chat by its chat template,
// and the per-sample loop of generate() by batched forward passes (on a GPU).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include <genius/error.hpp>
#include <genius/model_backend.hpp>
#include <genius/registration.hpp>

namespace {

namespace fs = std::filesystem;
using genius::TokenId;

constexpr TokenId kEndToken = 256;  // ends a response; also the "previous token" of an empty prompt
constexpr std::int64_t kVocab = 257;
// save() writes config.json (the run driver takes it as the mark of a complete
// checkpoint) and the table as V*V float32 in host byte order, row-major.
constexpr const char* kWeightsFile = "bigram.f32";

// Sample i of a request gets its own generator, seeded from (request seed, i)
// with splitmix64, so it does not depend on the other requests of the call.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A double in [0, 1) from 53 bits of one draw (the same on every platform).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Bytes -> valid UTF-8, each byte that starts no valid sequence replaced by
// U+FFFD, as tokenizers decode: texts end up in JSON (records, pairs), which
// must be valid UTF-8, and a random model emits any byte.
std::string valid_utf8(const std::string& bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[i + k]); };
    const unsigned c = byte(0);
    const std::size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    const unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    bool ok = n > 0 && i + n <= bytes.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = k == 1 ? byte(k) >= lo && byte(k) <= hi : (byte(k) >> 6) == 0x2;
    if (ok) {
      out.append(bytes, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

class @CLASS@ final : public genius::ModelBackend {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::ModelBackend, "@NAME@", "0.1.0",
                               "byte-level bigram table model (scaffold)")
            .path("path", std::string(""), "model directory written by this backend (config.json, bigram.f32)")
            .key("init_random", false, "start from random weights instead of reading path")
            .key("init_seed", 0, "seed of the random weights", genius::at_least(0));
    return m;
  }

  // `genius init-model --backend @NAME@ --seed N --out DIR`: a new model in DIR.
  // A model with a shape would declare its keys after .model_creation() in
  // the manifest and read them from `keys`; a bigram table has none.
  static void create_model(const genius::ConfigView& /*keys*/, std::uint64_t seed, const fs::path& out) {
    @CLASS@(random_table(seed)).save(out);
  }

  // name() is still empty while the constructor runs: use manifest().name.
  explicit @CLASS@(const genius::ConfigView& cfg) {
    if (cfg.get<bool>("init_random")) {
      table_ = random_table(cfg.get<std::uint64_t>("init_seed"));
    } else {
      const std::string path = cfg.get<std::string>("path");
      if (path.empty())
        throw genius::PluginError(manifest().name,
                                  "[model] path is not set: give a directory written by this backend, or set "
                                  "init_random = true to start from random weights");
      table_ = read_table(path, manifest().name);
    }
    table_.set_requires_grad(true);
  }

  // --- tokenizer: one token per byte; TODO: the model's real tokenizer.
  std::vector<TokenId> encode(std::string_view text) const override {
    std::vector<TokenId> ids;
    for (char c : text) ids.push_back(static_cast<TokenId>(static_cast<unsigned char>(c)));
    return ids;
  }
  std::string decode(const std::vector<TokenId>& ids) const override {
    std::string bytes;
    for (TokenId id : ids) {
      check_id(id);
      if (id != kEndToken) bytes.push_back(static_cast<char>(id));  // special tokens are not text
    }
    return valid_utf8(bytes);
  }
  // TODO: render the model's chat template; a bigram model has none.
  std::string format_chat(std::string_view user_message) const override { return std::string(user_message); }
  std::vector<TokenId> eos_token_ids() const override { return {kEndToken}; }
  std::int64_t vocab_size() const override { return kVocab; }

  // --- inference
  std::vector<genius::GenerationResult> generate(const std::vector<genius::GenerationRequest>& requests) override {
    at::NoGradGuard no_grad;
    const at::Tensor logp = at::log_softmax(table_, 1).contiguous();  // raw distribution, temperature 1
    std::vector<genius::GenerationResult> results;
    for (const genius::GenerationRequest& request : requests) {
      genius::GenerationResult result;
      for (int i = 0; i < request.n; ++i)
        result.samples.push_back(sample(request, logp.data_ptr<float>(), sample_seed(request.seed, std::uint64_t(i))));
      results.push_back(std::move(result));
    }
    return results;
  }

  // --- training
  // sum_t log p(response_t | previous token): differentiable w.r.t. the table.
  at::Tensor sequence_logprobs(const std::vector<genius::ScoringExample>& batch) override {
    const at::Tensor logp = at::log_softmax(table_, 1).reshape({-1});
    std::vector<at::Tensor> sums;
    for (const genius::ScoringExample& example : batch) sums.push_back(at::take(logp, transitions(example)).sum());
    return sums.empty() ? at::zeros({0}, table_.options()) : at::stack(sums);
  }
  std::vector<std::vector<double>> token_logprobs(const std::vector<genius::ScoringExample>& batch) override {
    at::NoGradGuard no_grad;
    const at::Tensor logp = at::log_softmax(table_, 1).reshape({-1});
    std::vector<std::vector<double>> out;
    for (const genius::ScoringExample& example : batch) {
      const at::Tensor values = at::take(logp, transitions(example)).to(at::kDouble).contiguous();
      out.emplace_back(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
    }
    return out;
  }
  std::vector<at::Tensor> parameters() override { return {table_}; }
  void set_training(bool /*training*/) override {}  // no dropout in a table; TODO: module.train(training)
  std::unique_ptr<genius::ModelBackend> frozen_copy() const override {
    return std::unique_ptr<@CLASS@>(new @CLASS@(table_.detach().clone()));
  }

  // --- persistence
  void save(const fs::path& dir) const override {
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << "{\"model_type\": \"@NAME@\", \"vocab_size\": " << kVocab << "}\n";
    const at::Tensor table = table_.detach().contiguous();
    std::ofstream out(dir / kWeightsFile, std::ios::binary);
    out.write(reinterpret_cast<const char*>(table.data_ptr<float>()),
              static_cast<std::streamsize>(table.numel() * sizeof(float)));
    if (!out.flush()) throw genius::PluginError(name(), "cannot write '" + (dir / kWeightsFile).string() + "'");
  }
  // In place: the optimizer keeps pointing at the same tensor.
  void load_weights(const fs::path& dir) override {
    const at::Tensor table = read_table(dir, name());
    at::NoGradGuard no_grad;
    table_.copy_(table);
  }

  // --- placement; TODO: honour a `device` / `dtype` key.
  std::string device() const override { return "cpu"; }
  std::string dtype() const override { return "float32"; }

 private:
  explicit @CLASS@(at::Tensor frozen) : table_(std::move(frozen)) {}

  static at::Tensor random_table(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> values(static_cast<std::size_t>(kVocab * kVocab));
    for (float& v : values) v = static_cast<float>(uniform01(rng) - 0.5);
    return at::tensor(values).reshape({kVocab, kVocab});
  }

  static at::Tensor read_table(const fs::path& dir, const std::string& plugin) {
    const fs::path file = dir / kWeightsFile;
    std::error_code ec;
    const auto bytes = fs::file_size(file, ec);
    if (ec) throw genius::PluginError(plugin, "'" + dir.string() + "' holds no " + kWeightsFile + ": not a model of this backend (init_random = true starts one)");
    const auto expected = static_cast<std::uintmax_t>(kVocab * kVocab) * sizeof(float);
    if (bytes != expected)
      throw genius::PluginError(plugin, "'" + file.string() + "' has " + std::to_string(bytes) + " bytes, expected " +
                                            std::to_string(expected));
    std::vector<float> values(static_cast<std::size_t>(kVocab * kVocab));
    std::ifstream in(file, std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(expected)))
      throw genius::PluginError(plugin, "cannot read '" + file.string() + "'");
    return at::tensor(values).reshape({kVocab, kVocab});
  }

  void check_id(TokenId id) const {
    if (id < 0 || id >= kVocab)
      throw genius::PluginError(name(), "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                            std::to_string(kVocab));
  }

  // Flat indices previous * V + next of the response's tokens into the table.
  at::Tensor transitions(const genius::ScoringExample& example) const {
    std::vector<std::int64_t> index;
    TokenId previous = example.prompt_ids.empty() ? kEndToken : example.prompt_ids.back();
    check_id(previous);
    for (TokenId next : example.response_ids) {
      check_id(next);
      index.push_back(std::int64_t{previous} * kVocab + next);
      previous = next;
    }
    return at::tensor(index, at::kLong);
  }

  // One continuation: draw from softmax(log p / temperature) restricted to the
  // top-p mass, until the end token, a stop string or max_new_tokens.
  genius::GeneratedSample sample(const genius::GenerationRequest& request, const float* logp,
                                 std::uint64_t seed) const {
    std::mt19937_64 rng(seed);
    genius::GeneratedSample s;
    std::string bytes;  // the response so far, for the stop strings
    TokenId previous = request.prompt_ids.empty() ? kEndToken : request.prompt_ids.back();
    check_id(previous);
    while (s.num_tokens() < request.max_new_tokens) {
      const float* row = logp + std::int64_t{previous} * kVocab;
      const TokenId next = draw(row, request.temperature, request.top_p, rng);
      s.token_ids.push_back(next);
      s.cumulative_logprob += row[next];
      previous = next;
      if (next == kEndToken) {
        if (request.ignore_eos) continue;
        s.finish_reason = genius::FinishReason::Eos;
        break;
      }
      bytes.push_back(static_cast<char>(next));
      if (cut_at_stop(bytes, request.stop)) {
        s.finish_reason = genius::FinishReason::Stop;
        break;
      }
    }
    s.text = valid_utf8(bytes);
    return s;
  }

  static TokenId draw(const float* row, double temperature, double top_p, std::mt19937_64& rng) {
    if (temperature <= 0) return static_cast<TokenId>(std::max_element(row, row + kVocab) - row);
    std::vector<std::pair<double, TokenId>> p;
    const double top = *std::max_element(row, row + kVocab);
    double total = 0;
    for (TokenId id = 0; id < kVocab; ++id) {
      p.emplace_back(std::exp((row[id] - top) / temperature), id);
      total += p.back().first;
    }
    std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    double kept = 0;
    std::size_t k = 0;
    while (k < p.size() && kept < top_p * total) kept += p[k++].first;
    double u = uniform01(rng) * kept;
    for (std::size_t i = 0; i + 1 < k; ++i)
      if ((u -= p[i].first) < 0) return p[i].second;
    return p[k - 1].second;
  }

  // The text grows one byte at a time, so a stop string can only end it.
  static bool cut_at_stop(std::string& text, const std::vector<std::string>& stops) {
    for (const std::string& stop : stops)
      if (!stop.empty() && text.size() >= stop.size() && text.compare(text.size() - stop.size(), stop.size(), stop) == 0) {
        text.resize(text.size() - stop.size());
        return true;
      }
    return false;
  }

  at::Tensor table_;  // [V, V] float32: row = previous token, column = next token
};

}  // namespace

GENIUS_REGISTER_PLUGIN(@CLASS@)
