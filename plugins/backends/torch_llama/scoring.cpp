#include "scoring.hpp"

#include <stdexcept>

#include <torch/torch.h>

namespace genius::llama {

std::vector<std::vector<double>> ResponseLogprobs::per_token() const {
  const at::Tensor flat = tokens.detach().to(at::kCPU, at::kDouble).contiguous();
  std::vector<std::vector<double>> out;
  std::int64_t offset = 0;
  for (auto n : lengths) {
    out.emplace_back(flat.data_ptr<double>() + offset, flat.data_ptr<double>() + offset + n);
    offset += n;
  }
  return out;
}

ResponseLogprobs response_logprobs(CausalLm& model, const std::vector<ScoringExample>& batch) {
  const auto rows = static_cast<std::int64_t>(batch.size());
  const auto vocab = model->config().vocab_size;
  std::int64_t width = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& ex = batch[i];
    if (ex.prompt_ids.empty())
      throw std::invalid_argument("scoring example " + std::to_string(i) + " has an empty prompt");
    for (const auto* ids : {&ex.prompt_ids, &ex.response_ids})
      for (TokenId t : *ids)
        if (t < 0 || t >= vocab)
          throw std::invalid_argument("scoring example " + std::to_string(i) + ": token id " + std::to_string(t) +
                                      " is outside the vocabulary (" + std::to_string(vocab) + ")");
    width = std::max<std::int64_t>(width, static_cast<std::int64_t>(ex.prompt_ids.size() + ex.response_ids.size()));
  }
  // Right-padded ids; `source` = flat position whose hidden state predicts each response token.
  std::vector<std::int64_t> ids(static_cast<std::size_t>(rows * width), 0), valid(ids.size(), 0);
  std::vector<std::int64_t> source, target, lengths;
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& ex = batch[static_cast<std::size_t>(r)];
    const auto p = static_cast<std::int64_t>(ex.prompt_ids.size());
    const auto n = static_cast<std::int64_t>(ex.response_ids.size());
    auto* row = ids.data() + r * width;
    std::copy(ex.prompt_ids.begin(), ex.prompt_ids.end(), row);
    std::copy(ex.response_ids.begin(), ex.response_ids.end(), row + p);
    std::fill_n(valid.data() + r * width, p + n, 1);
    for (std::int64_t t = 0; t < n; ++t) {
      source.push_back(r * width + p + t - 1);
      target.push_back(ex.response_ids[static_cast<std::size_t>(t)]);
    }
    lengths.push_back(n);
  }
  const auto device = model->model->embed_tokens->weight.device();
  const auto dtype = model->model->embed_tokens->weight.scalar_type();
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor input = at::tensor(ids, at::kLong).view({rows, width}).to(device);
  const at::Tensor mask_valid = at::tensor(valid, at::kLong).view({rows, width}).to(at::kBool).to(device);
  const at::Tensor positions = at::arange(width, long_opts).unsqueeze(0).expand({rows, width});
  const at::Tensor hidden = model->hidden_states(input, {positions, causal_mask(mask_valid, 0, width, dtype)});

  ResponseLogprobs out;
  out.lengths = lengths;
  const at::Tensor src = at::tensor(source, at::kLong).to(device);
  const at::Tensor tgt = at::tensor(target, at::kLong).to(device);
  const at::Tensor picked = hidden.reshape({rows * width, hidden.size(2)}).index_select(0, src);
  const at::Tensor logp = at::log_softmax(model->logits(picked).to(at::kFloat), -1);
  out.tokens = logp.gather(1, tgt.unsqueeze(1)).squeeze(1);
  // Sum per example: scatter-add the token log-probs into their rows.
  std::vector<std::int64_t> owner;
  for (std::int64_t r = 0; r < rows; ++r)
    owner.insert(owner.end(), static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)]), r);
  out.sums = at::zeros({rows}, out.tokens.options()).index_add(0, at::tensor(owner, at::kLong).to(device), out.tokens);
  return out;
}

}  // namespace genius::llama
