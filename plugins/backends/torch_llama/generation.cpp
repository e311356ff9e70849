#include "generation.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

#include <torch/torch.h>

namespace genius::llama {

std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t index) {
  // splitmix64 of (seed, index): well-mixed, cheap, stable across platforms.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

namespace {

// One sample being generated.
struct Row {
  std::size_t request = 0, sample = 0;
  GeneratedSample out;
  std::mt19937_64 rng;
  TextStream stream;             ///< empty: the whole sample is decoded each step
  std::string text;              ///< streamed text so far
  std::size_t text_checked = 0;  ///< without a stream: text length already searched
  std::int64_t position = 0;     ///< slot of the next token fed = tokens in the cache
  TokenId next = 0;              ///< the token the next decode step feeds
  bool done = false;
};
using Rows = std::vector<std::unique_ptr<Row>>;

// Choose the next token of every row from its logits [rows, vocab], in float64.
std::vector<TokenId> choose_tokens(const at::Tensor& logits64, const Rows& rows,
                                   const std::vector<GenerationRequest>& requests) {
  const auto n = static_cast<std::int64_t>(rows.size());
  std::vector<double> temperature(n), top_p(n), u(n);
  bool any_top_p = false;
  for (std::int64_t i = 0; i < n; ++i) {
    const GenerationRequest& r = requests[rows[i]->request];
    temperature[i] = r.temperature;
    top_p[i] = r.top_p;
    any_top_p = any_top_p || (r.temperature > 0 && r.top_p < 1.0);
    u[i] = std::uniform_real_distribution<double>(0.0, 1.0)(rows[i]->rng);
  }
  const auto opts = logits64.options();
  const at::Tensor greedy = logits64.argmax(-1);
  std::vector<TokenId> out(static_cast<std::size_t>(n));
  if (std::all_of(temperature.begin(), temperature.end(), [](double t) { return t <= 0; })) {
    const at::Tensor argmax = greedy.to(at::kCPU, at::kLong).contiguous();
    const std::int64_t* g = argmax.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = static_cast<TokenId>(g[i]);
    return out;
  }
  const at::Tensor temp = at::tensor(temperature, opts).clamp_min(1e-6).unsqueeze(1);
  at::Tensor probs = at::softmax(logits64 / temp, -1);
  at::Tensor order;  // vocabulary order of `probs` columns (identity unless sorted for top-p)
  if (any_top_p) {
    // Nucleus: keep the most probable tokens until their mass reaches top_p
    // (the token that crosses the threshold is kept), renormalise.
    auto sorted = probs.sort(-1, /*descending=*/true);
    probs = std::get<0>(sorted);
    order = std::get<1>(sorted);
    const at::Tensor mass_before = probs.cumsum(-1) - probs;
    probs = probs.masked_fill(mass_before >= at::tensor(top_p, opts).unsqueeze(1), 0.0);
  }
  const at::Tensor cdf = probs.cumsum(-1);
  const at::Tensor target = at::tensor(u, opts).unsqueeze(1) * cdf.select(1, cdf.size(1) - 1).unsqueeze(1);
  at::Tensor pick = at::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true).squeeze(1);
  pick = pick.clamp_max(cdf.size(1) - 1);
  if (order.defined()) pick = order.gather(1, pick.unsqueeze(1)).squeeze(1);
  const at::Tensor sampled = pick.to(at::kCPU, at::kLong).contiguous(),
                   argmax = greedy.to(at::kCPU, at::kLong).contiguous();
  const std::int64_t* s = sampled.data_ptr<std::int64_t>();
  const std::int64_t* g = argmax.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] =
        static_cast<TokenId>(temperature[static_cast<std::size_t>(i)] <= 0 ? g[i] : s[i]);
  return out;
}

std::size_t earliest_stop(const std::string& text, const std::vector<std::string>& stops, std::size_t from) {
  std::size_t hit = std::string::npos;
  for (const auto& stop : stops)
    if (!stop.empty()) hit = std::min(hit, text.find(stop, from));
  return hit;
}

// Append `token` to a row; decide whether it is finished. Stop strings are
// searched only in the text the token may complete: with a stream, the new
// text and the longest stop's length before it.
void advance(Row& row, TokenId token, double logprob, const GenerationRequest& request,
             const GenerationOptions& options) {
  GeneratedSample& s = row.out;
  s.token_ids.push_back(token);
  s.cumulative_logprob += logprob;
  if (!request.ignore_eos && options.eos_ids.count(token)) {
    s.finish_reason = FinishReason::Eos;
    row.done = true;
  } else if (!request.stop.empty()) {
    std::size_t longest = 0;
    for (const auto& stop : request.stop) longest = std::max(longest, stop.size());
    std::size_t hit = std::string::npos;
    if (row.stream) {
      const std::size_t before = row.text.size();
      row.text += row.stream(token);
      if (row.text.size() > before)
        hit = earliest_stop(row.text, request.stop, before >= longest ? before - longest + 1 : 0);
    } else {
      const std::string text = options.decode(s.token_ids);
      // Earlier text is final except a possibly incomplete UTF-8 tail (<= 3 bytes).
      const std::size_t from = row.text_checked > longest + 3 ? row.text_checked - longest - 3 : 0;
      hit = earliest_stop(text, request.stop, from);
      row.text_checked = text.size();
      if (hit != std::string::npos) row.text = text;
    }
    if (hit != std::string::npos) {
      s.finish_reason = FinishReason::Stop;
      const std::string text = options.decode(s.token_ids);
      const std::size_t cut = earliest_stop(text, request.stop, 0);
      s.text = cut != std::string::npos ? text.substr(0, cut) : row.text.substr(0, hit);
      row.done = true;
      return;
    }
  }
  if (!row.done && s.num_tokens() >= request.max_new_tokens) {
    s.finish_reason = FinishReason::Length;
    row.done = true;
  }
  if (row.done) s.text = options.decode(s.token_ids);
}

// Samples [first, first + count) of one request, admitted together.
struct Admission {
  std::size_t request = 0;
  int first = 0, count = 0;
};

class Engine {
 public:
  Engine(CausalLm& model, const std::vector<GenerationRequest>& requests, const GenerationOptions& options)
      : model_(model), requests_(requests), options_(options), results_(requests.size()) {
    std::int64_t samples = 0, capacity = 0;
    for (const auto& r : requests) {
      samples += r.n;
      capacity = std::max<std::int64_t>(capacity, static_cast<std::int64_t>(r.prompt_ids.size()) + r.max_new_tokens);
    }
    for (std::size_t i = 0; i < requests.size(); ++i)
      results_[i].samples.resize(static_cast<std::size_t>(requests[i].n));
    max_rows_ = options.max_batch_rows > 0 ? std::min(options.max_batch_rows, samples) : samples;
    batch_ = model->make_cache(max_rows_, capacity);
    dtype_ = model->model->embed_tokens->weight.scalar_type();
    device_ = model->model->embed_tokens->weight.device();
  }

  std::vector<GenerationResult> run() {
    admit();
    while (!live_.empty()) {
      step();
      admit();
    }
    if (options_.stats) {
      GenerationStats& s = *options_.stats;
      s.kv_bytes = options_.prefix_cache ? options_.prefix_cache->bytes() : 0;
      s.prefix_cache_bytes = s.kv_bytes;
      s.prefix_cache_evicted_tokens = options_.prefix_cache ? options_.prefix_cache->evicted_tokens() : 0;
    }
    return std::move(results_);
  }

 private:
  void admit();
  void prefill(const std::vector<Admission>& admitted);
  void step();
  void retire(std::size_t slot);
  void note_memory(std::int64_t transient_bytes) const;
  GenerationStats* stats() const { return options_.stats; }
  at::Tensor to_device(const std::vector<std::int64_t>& values, std::vector<std::int64_t> shape) const {
    return at::tensor(values, at::TensorOptions().dtype(at::kLong)).view(shape).to(device_);
  }

  CausalLm& model_;
  const std::vector<GenerationRequest>& requests_;
  const GenerationOptions& options_;
  std::vector<GenerationResult> results_;
  std::size_t waiting_ = 0;  ///< first request with samples not yet admitted
  int waiting_sample_ = 0;   ///< its first sample not yet admitted
  std::int64_t max_rows_ = 0;
  KvCache batch_;
  Rows live_;          ///< row i lives in slot i of batch_
  at::Tensor logits_;  ///< [live, vocab] float: the distributions of the next tokens
  at::ScalarType dtype_ = at::kFloat;
  at::Device device_ = at::kCPU;
};

void Engine::note_memory(std::int64_t transient_bytes) const {
  if (!stats()) return;
  const std::int64_t held = (options_.prefix_cache ? options_.prefix_cache->bytes() : 0) +
                            batch_.storage.numel() * static_cast<std::int64_t>(batch_.storage.element_size()) +
                            transient_bytes;
  stats()->kv_bytes_peak = std::max(stats()->kv_bytes_peak, held);
}

// Waiting samples take free rows once the next request fits whole (or the
// batch is empty), so that prefills come in groups rather than one row at a
// time; the last request admitted may be split.
void Engine::admit() {
  if (waiting_ >= requests_.size()) return;
  auto free = max_rows_ - static_cast<std::int64_t>(live_.size());
  const auto next = requests_[waiting_].n - waiting_sample_;
  if (free < std::min<std::int64_t>(next, max_rows_)) return;
  std::vector<Admission> admitted;
  while (free > 0 && waiting_ < requests_.size()) {
    const int left = requests_[waiting_].n - waiting_sample_;
    const int take = static_cast<int>(std::min<std::int64_t>(left, free));
    admitted.push_back({waiting_, waiting_sample_, take});
    free -= take;
    waiting_sample_ += take;
    if (waiting_sample_ == requests_[waiting_].n) ++waiting_, waiting_sample_ = 0;
  }
  prefill(admitted);
}

// Prefills the admitted prompts together: each from the end of its cached
// prefix, right-padded to the longest remainder, in a scratch cache whose
// rows are then copied to the samples' rows of the batch.
void Engine::prefill(const std::vector<Admission>& admitted) {
  const auto prompts = static_cast<std::int64_t>(admitted.size());
  std::vector<std::int64_t> cached(admitted.size(), 0), rest(admitted.size(), 0);
  std::vector<PrefixCache::Match> matches(admitted.size());
  for (std::size_t p = 0; p < admitted.size(); ++p) {
    const auto& prompt = requests_[admitted[p].request].prompt_ids;
    const auto length = static_cast<std::int64_t>(prompt.size());
    // The last prompt token is always computed: its logits choose the first token.
    if (options_.prefix_cache) matches[p] = options_.prefix_cache->lookup(prompt.data(), length - 1);
    cached[p] = matches[p].tokens;
    rest[p] = length - cached[p];
  }
  const std::int64_t width = *std::max_element(rest.begin(), rest.end());
  std::int64_t capacity = 0, longest = 0;
  for (std::size_t p = 0; p < admitted.size(); ++p) {
    capacity = std::max(capacity, cached[p] + width);
    longest = std::max(longest, cached[p] + rest[p]);
  }
  KvCache scratch = model_->make_cache(prompts, capacity);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(prompts * width), 0), positions(ids.size(), 0), last;
  for (std::size_t p = 0; p < admitted.size(); ++p) {
    std::int64_t offset = 0;
    for (const at::Tensor& segment : matches[p].segments) {
      const auto len = segment.size(3);
      scratch.storage.select(2, static_cast<std::int64_t>(p)).narrow(3, offset, len).copy_(segment);
      offset += len;
    }
    const auto& prompt = requests_[admitted[p].request].prompt_ids;
    const auto row = static_cast<std::int64_t>(p) * width;
    for (std::int64_t j = 0; j < width; ++j) {
      if (j < rest[p]) ids[static_cast<std::size_t>(row + j)] = prompt[static_cast<std::size_t>(cached[p] + j)];
      positions[static_cast<std::size_t>(row + j)] = cached[p] + j;  // padding continues past the prompt
    }
    last.push_back(row + rest[p] - 1);
  }
  note_memory(scratch.storage.numel() * static_cast<std::int64_t>(scratch.storage.element_size()));
  const at::Tensor pos = to_device(positions, {prompts, width});
  scratch.visible = capacity;
  const at::Tensor hidden =
      model_->hidden_states(to_device(ids, {prompts, width}), {pos, position_mask(pos, capacity, dtype_)}, &scratch);
  const at::Tensor logits =
      model_->logits(hidden.reshape({prompts * width, hidden.size(2)}).index_select(0, to_device(last, {prompts})))
          .to(at::kFloat);

  std::vector<std::int64_t> source;
  for (std::size_t p = 0; p < admitted.size(); ++p) {
    const Admission& a = admitted[p];
    const GenerationRequest& r = requests_[a.request];
    if (options_.prefix_cache)
      options_.prefix_cache->insert(
          r.prompt_ids.data(), static_cast<std::int64_t>(r.prompt_ids.size()), [&](std::int64_t from, std::int64_t to) {
            return scratch.storage.select(2, static_cast<std::int64_t>(p)).narrow(3, from, to - from);
          });
    for (int s = a.first; s < a.first + a.count; ++s) {
      auto row = std::make_unique<Row>();
      row->request = a.request;
      row->sample = static_cast<std::size_t>(s);
      row->rng.seed(sample_seed(r.seed, static_cast<std::uint64_t>(s)));
      if (!r.stop.empty() && options_.make_stream) row->stream = options_.make_stream();
      row->position = static_cast<std::int64_t>(r.prompt_ids.size());
      live_.push_back(std::move(row));
      source.push_back(static_cast<std::int64_t>(p));
    }
  }
  const auto added = static_cast<std::int64_t>(source.size());
  const at::Tensor index = to_device(source, {added});
  batch_.storage.narrow(2, static_cast<std::int64_t>(live_.size()) - added, added)
      .narrow(4, 0, longest)
      .copy_(scratch.storage.narrow(4, 0, longest).index_select(2, index));
  const at::Tensor fresh = logits.index_select(0, index);
  logits_ = logits_.defined() && logits_.size(0) > 0 ? at::cat({logits_, fresh}, 0) : fresh;
  if (stats()) {
    stats()->prefills += prompts;
    stats()->prompt_tokens_computed += std::accumulate(rest.begin(), rest.end(), std::int64_t{0});
    stats()->prompt_tokens_reused += std::accumulate(cached.begin(), cached.end(), std::int64_t{0});
  }
  note_memory(0);
}

// A finished row leaves: its sequence enters the prefix cache and the last
// live row moves into its slot.
void Engine::retire(std::size_t slot) {
  Row& row = *live_[slot];
  const GenerationRequest& r = requests_[row.request];
  if (options_.prefix_cache && row.position > 0) {
    std::vector<TokenId> sequence = r.prompt_ids;
    sequence.insert(sequence.end(), row.out.token_ids.begin(), row.out.token_ids.end() - 1);  // the last is not fed
    options_.prefix_cache->insert(sequence.data(), row.position, [&](std::int64_t from, std::int64_t to) {
      return batch_.storage.select(2, static_cast<std::int64_t>(slot)).narrow(3, from, to - from);
    });
  }
  results_[row.request].samples[row.sample] = std::move(row.out);
  const std::size_t last = live_.size() - 1;
  if (slot != last) {
    const std::int64_t filled = live_[last]->position;
    batch_.storage.narrow(2, static_cast<std::int64_t>(slot), 1)
        .narrow(4, 0, filled)
        .copy_(batch_.storage.narrow(2, static_cast<std::int64_t>(last), 1).narrow(4, 0, filled));
    live_[slot] = std::move(live_[last]);
  }
  live_.pop_back();
}

// Chooses every live row's next token, retires finished rows, and runs one
// decode step for the rest.
void Engine::step() {
  const at::Tensor logits64 = logits_.to(at::kDouble);  // once: for the choice and the log-probs
  const std::vector<TokenId> tokens = choose_tokens(logits64, live_, requests_);
  const at::Tensor chosen =
      at::tensor(std::vector<std::int64_t>(tokens.begin(), tokens.end()), at::TensorOptions().dtype(at::kLong));
  const at::Tensor logprobs =
      at::log_softmax(logits64, -1).gather(1, chosen.to(device_).unsqueeze(1)).squeeze(1).to(at::kCPU).contiguous();
  const double* logprob = logprobs.data_ptr<double>();
  for (std::size_t i = 0; i < live_.size(); ++i) {
    live_[i]->next = tokens[i];
    advance(*live_[i], tokens[i], logprob[i], requests_[live_[i]->request], options_);
  }
  if (stats()) stats()->generated_tokens += static_cast<std::int64_t>(tokens.size());
  for (std::size_t i = 0; i < live_.size();)
    if (live_[i]->done)
      retire(i);  // the row moved into slot i is checked next
    else
      ++i;
  if (live_.empty()) {
    logits_ = at::Tensor();
    return;
  }
  const auto rows = static_cast<std::int64_t>(live_.size());
  std::vector<std::int64_t> next(live_.size()), positions(live_.size());
  std::int64_t visible = 0;
  for (std::size_t i = 0; i < live_.size(); ++i) {
    next[i] = live_[i]->next;
    positions[i] = live_[i]->position++;
    visible = std::max(visible, positions[i] + 1);
  }
  const at::Tensor pos = to_device(positions, {rows, 1});
  batch_.visible = visible;
  const at::Tensor hidden =
      model_->hidden_states(to_device(next, {rows, 1}), {pos, position_mask(pos, visible, dtype_)}, &batch_);
  logits_ = model_->logits(hidden.select(1, 0)).to(at::kFloat);
  if (stats()) {
    ++stats()->decode_steps;
    stats()->decode_rows += rows;
  }
}

}  // namespace

std::vector<GenerationResult> generate(CausalLm& model, const std::vector<GenerationRequest>& requests,
                                       const GenerationOptions& options) {
  model->fuse_projections();  // outside inference mode: the parameters become views of the joined tensors
  // Inference mode, not only no-grad: ATen skips the autograd and version
  // bookkeeping of every operation, a fixed cost that dominates decoding on
  // small models. Nothing made here (the batch's keys and values, the prefix
  // cache's entries) is ever used with autograd.
  c10::InferenceMode inference;
  std::vector<GenerationResult> results(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    if (r.prompt_ids.empty())
      throw std::invalid_argument("generation request " + std::to_string(i) + " has an empty prompt");
    if (r.n < 1) throw std::invalid_argument("generation request " + std::to_string(i) + ": n must be >= 1");
    if (r.max_new_tokens < 1)
      throw std::invalid_argument("generation request " + std::to_string(i) + ": max_new_tokens must be >= 1");
    if (r.temperature < 0 || !(r.top_p > 0 && r.top_p <= 1))
      throw std::invalid_argument("generation request " + std::to_string(i) +
                                  ": temperature must be >= 0 and top_p in (0, 1]");
    const auto vocab = model->config().vocab_size;
    for (TokenId t : r.prompt_ids)
      if (t < 0 || t >= vocab)
        throw std::invalid_argument("generation request " + std::to_string(i) + ": token id " + std::to_string(t) +
                                    " is outside the vocabulary (" + std::to_string(vocab) + ")");
  }
  if (options.stats) {
    ++options.stats->calls;
    options.stats->requests += static_cast<std::int64_t>(requests.size());
  }
  if (requests.empty()) return {};
  return Engine(model, requests, options).run();
}

}  // namespace genius::llama
