#include "generation.hpp"

#include <algorithm>
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

struct Row {
  std::size_t request;
  GeneratedSample sample;
  std::mt19937_64 rng;
  std::size_t text_checked = 0;  ///< text length already searched for stop strings
  bool done = false;
};

// Choose the next token of every row from its logits [rows, vocab].
std::vector<TokenId> choose_tokens(const at::Tensor& logits, std::vector<Row*>& rows,
                                   const std::vector<GenerationRequest>& requests) {
  const auto n = static_cast<std::int64_t>(rows.size());
  const at::Tensor logits64 = logits.to(at::kDouble);
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
  std::vector<TokenId> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] =
        static_cast<TokenId>(temperature[static_cast<std::size_t>(i)] <= 0 ? g[i] : s[i]);
  return out;
}

// Append `token` to a row; decide whether it is finished.
void advance(Row& row, TokenId token, double logprob, const GenerationRequest& request,
             const GenerationOptions& options) {
  GeneratedSample& s = row.sample;
  s.token_ids.push_back(token);
  s.cumulative_logprob += logprob;
  if (!request.ignore_eos && options.eos_ids.count(token)) {
    s.finish_reason = FinishReason::Eos;
    row.done = true;
  } else if (!request.stop.empty()) {
    const std::string text = options.decode(s.token_ids);
    std::size_t longest = 0;
    for (const auto& stop : request.stop) longest = std::max(longest, stop.size());
    // Earlier text is final except a possibly incomplete UTF-8 tail (<= 3 bytes).
    const std::size_t from = row.text_checked > longest + 3 ? row.text_checked - longest - 3 : 0;
    std::size_t hit = std::string::npos;
    for (const auto& stop : request.stop)
      if (!stop.empty()) hit = std::min(hit, text.find(stop, from));
    row.text_checked = text.size();
    if (hit != std::string::npos) {
      s.finish_reason = FinishReason::Stop;
      s.text = text.substr(0, hit);
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

// Generate for one group of requests that fits a batch.
void generate_group(CausalLm& model, const std::vector<GenerationRequest>& requests,
                    const std::vector<std::size_t>& group, const GenerationOptions& options,
                    std::vector<GenerationResult>& results) {
  const at::Tensor weight = model->model->embed_tokens->weight;
  const auto device = weight.device();
  const auto long_opts = at::TensorOptions().dtype(at::kLong);

  // Prefill every prompt once, left-padded to one timeline.
  std::int64_t prompt_len = 0, max_new = 0;
  for (auto r : group) {
    prompt_len = std::max<std::int64_t>(prompt_len, static_cast<std::int64_t>(requests[r].prompt_ids.size()));
    max_new = std::max<std::int64_t>(max_new, requests[r].max_new_tokens);
  }
  const auto prompts = static_cast<std::int64_t>(group.size());
  std::vector<std::int64_t> flat_ids(static_cast<std::size_t>(prompts * prompt_len), 0);
  std::vector<std::int64_t> flat_valid(flat_ids.size(), 0);
  for (std::int64_t p = 0; p < prompts; ++p) {
    const auto& prompt = requests[group[static_cast<std::size_t>(p)]].prompt_ids;
    const auto row = static_cast<std::size_t>(p * prompt_len + prompt_len) - prompt.size();
    std::copy(prompt.begin(), prompt.end(), flat_ids.begin() + static_cast<std::ptrdiff_t>(row));
    std::fill_n(flat_valid.begin() + static_cast<std::ptrdiff_t>(row), prompt.size(), 1);
  }
  const at::Tensor ids = at::tensor(flat_ids, long_opts).view({prompts, prompt_len}).to(device);
  at::Tensor valid = at::tensor(flat_valid, long_opts).view({prompts, prompt_len}).to(at::kBool).to(device);
  at::Tensor positions = (valid.to(at::kLong).cumsum(1) - 1).clamp_min(0);

  KvCache cache = model->make_cache(prompts, prompt_len + max_new);
  at::Tensor hidden =
      model->hidden_states(ids, {positions, causal_mask(valid, 0, prompt_len, weight.scalar_type())}, &cache);
  at::Tensor logits = model->logits(hidden.select(1, prompt_len - 1)).to(at::kFloat);  // [prompts, vocab]

  // One row per sample; rows of a prompt share its prefilled cache.
  std::vector<Row> rows;
  std::vector<std::int64_t> source;
  for (std::int64_t p = 0; p < prompts; ++p) {
    const GenerationRequest& r = requests[group[p]];
    for (int s = 0; s < r.n; ++s) {
      rows.push_back({group[p], {}, std::mt19937_64(sample_seed(r.seed, static_cast<std::uint64_t>(s))), 0, false});
      source.push_back(p);
    }
  }
  at::Tensor index = at::tensor(source, long_opts).to(device);
  cache.select_rows(index);
  logits = logits.index_select(0, index);
  valid = valid.index_select(0, index);
  at::Tensor next_pos = positions.select(1, prompt_len - 1).index_select(0, index) + 1;

  std::vector<Row*> active;
  active.reserve(rows.size());
  for (auto& row : rows) active.push_back(&row);
  while (!active.empty()) {
    const std::vector<TokenId> tokens = choose_tokens(logits, active, requests);
    const at::Tensor token_tensor = at::tensor(std::vector<std::int64_t>(tokens.begin(), tokens.end()), long_opts);
    const at::Tensor logprobs = at::log_softmax(logits.to(at::kDouble), -1)
                                    .gather(1, token_tensor.to(device).unsqueeze(1))
                                    .squeeze(1)
                                    .to(at::kCPU)
                                    .contiguous();
    const double* logprob = logprobs.data_ptr<double>();
    std::vector<std::int64_t> keep;
    for (std::size_t i = 0; i < active.size(); ++i) {
      advance(*active[i], tokens[i], logprob[i], requests[active[i]->request], options);
      if (!active[i]->done) keep.push_back(static_cast<std::int64_t>(i));
    }
    if (keep.empty()) break;
    at::Tensor step_ids = token_tensor.to(device).unsqueeze(1);
    if (keep.size() != active.size()) {  // finished samples leave the batch
      const at::Tensor k = at::tensor(keep, long_opts).to(device);
      cache.select_rows(k);
      valid = valid.index_select(0, k);
      next_pos = next_pos.index_select(0, k);
      step_ids = step_ids.index_select(0, k);
      std::vector<Row*> still;
      still.reserve(keep.size());
      for (auto i : keep) still.push_back(active[static_cast<std::size_t>(i)]);
      active.swap(still);
    }
    valid = at::cat({valid, at::ones({valid.size(0), 1}, valid.options())}, 1);
    const at::Tensor mask = causal_mask(valid, cache.length, 1, weight.scalar_type());
    hidden = model->hidden_states(step_ids, {next_pos.unsqueeze(1), mask}, &cache);
    logits = model->logits(hidden.select(1, 0)).to(at::kFloat);
    next_pos = next_pos + 1;
  }
  for (auto& row : rows) results[row.request].samples.push_back(std::move(row.sample));
}

}  // namespace

std::vector<GenerationResult> generate(CausalLm& model, const std::vector<GenerationRequest>& requests,
                                       const GenerationOptions& options) {
  torch::NoGradGuard no_grad;
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
  // Group requests so that each forward pass holds at most max_batch_rows samples.
  std::vector<std::size_t> group;
  std::int64_t rows = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (!group.empty() && options.max_batch_rows > 0 && rows + requests[i].n > options.max_batch_rows) {
      generate_group(model, requests, group, options, results);
      group.clear();
      rows = 0;
    }
    group.push_back(i);
    rows += requests[i].n;
  }
  if (!group.empty()) generate_group(model, requests, group, options, results);
  return results;
}

}  // namespace genius::llama
