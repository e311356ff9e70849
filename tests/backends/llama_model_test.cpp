// The decoder against an independent float64 implementation of the Hugging
// Face forward pass, and batched generation against single-request runs.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "generation.hpp"
#include "generation_test_util.hpp"
#include "llama_model.hpp"

namespace genius::llama {
namespace {

ModelConfig small_config(const std::string& type, std::int64_t heads, std::int64_t kv_heads, bool tied,
                         bool llama3_rope, std::int64_t original_context = 16) {
  nlohmann::json j = {{"model_type", type},
                      {"vocab_size", 37},
                      {"hidden_size", 32},
                      {"intermediate_size", 48},
                      {"num_hidden_layers", 2},
                      {"num_attention_heads", heads},
                      {"num_key_value_heads", kv_heads},
                      {"rms_norm_eps", 1e-5},
                      {"rope_theta", 500.0},
                      {"tie_word_embeddings", tied},
                      {"max_position_embeddings", 64}};
  if (llama3_rope)
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", original_context}};
  return ModelConfig::from_json(j, "test");
}

CausalLm random_model(const ModelConfig& config, std::uint64_t seed) {
  torch::manual_seed(seed);
  CausalLm model(config);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.3);  // norms and biases too: nothing trivially 1 or 0
  return model;
}

// ---------------------------------------------------------------- reference
// Written from the HF definitions with scalar loops in double; it shares no
// code with the model (its own RoPE frequencies, rotation, GQA mapping).

std::vector<double> ref_inv_freq(const ModelConfig& c) {
  std::vector<double> f;
  for (std::int64_t i = 0; i < c.head_dim / 2; ++i) {
    double x = 1.0 / std::pow(c.rope_theta, 2.0 * double(i) / double(c.head_dim));
    if (c.rope_scaling.type == "llama3") {
      const auto& s = c.rope_scaling;
      const double wavelen = 2 * M_PI / x, old = double(s.original_max_position_embeddings);
      if (wavelen > old / s.low_freq_factor) {
        x = x / s.factor;
      } else if (wavelen >= old / s.high_freq_factor) {
        const double smooth = (old / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        x = (1 - smooth) * x / s.factor + smooth * x;
      }
    }
    f.push_back(x);
  }
  return f;
}

at::Tensor W(CausalLm& m, const std::string& name) {
  for (const auto& item : m->named_parameters())
    if (item.key() == name) return item.value().detach().to(at::kDouble);
  throw std::runtime_error("no parameter " + name);
}

at::Tensor ref_rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return w * x / (x.pow(2).mean(-1, true) + eps).sqrt();
}

at::Tensor ref_linear(CausalLm& m, const std::string& name, const at::Tensor& x, bool bias) {
  at::Tensor y = x.matmul(W(m, name + ".weight").t());
  return bias ? y + W(m, name + ".bias") : y;
}

// Logits [T, vocab] of one unpadded sequence.
at::Tensor reference_logits(CausalLm& m, const std::vector<std::int64_t>& ids) {
  const ModelConfig& c = m->config();
  const auto T = static_cast<std::int64_t>(ids.size()), D = c.head_dim, H = c.num_attention_heads;
  const auto KV = c.num_key_value_heads;
  const std::vector<double> inv_freq = ref_inv_freq(c);
  at::Tensor x = W(m, "model.embed_tokens.weight").index_select(0, at::tensor(ids));
  auto rope = [&](at::Tensor v) {  // v: [T, D] one head; rotate pairs (i, i + D/2) by angle t * f_i
    at::Tensor out = v.clone();
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t i = 0; i < D / 2; ++i) {
        const double a = double(t) * inv_freq[i], x1 = v[t][i].item<double>(), x2 = v[t][i + D / 2].item<double>();
        out[t][i] = x1 * std::cos(a) - x2 * std::sin(a);
        out[t][i + D / 2] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    return out;
  };
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const at::Tensor h = ref_rms(x, W(m, p + "input_layernorm.weight"), c.rms_norm_eps);
    const at::Tensor q = ref_linear(m, p + "self_attn.q_proj", h, c.attention_bias);
    const at::Tensor k = ref_linear(m, p + "self_attn.k_proj", h, c.attention_bias);
    const at::Tensor v = ref_linear(m, p + "self_attn.v_proj", h, c.attention_bias);
    std::vector<at::Tensor> heads;
    for (std::int64_t head = 0; head < H; ++head) {
      const std::int64_t kvh = head / (H / KV);  // HF repeat_kv: consecutive heads share a kv head
      const at::Tensor qh = rope(q.narrow(1, head * D, D)), kh = rope(k.narrow(1, kvh * D, D));
      at::Tensor scores = qh.matmul(kh.t()) / std::sqrt(double(D));
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t j = i + 1; j < T; ++j) scores[i][j] = -INFINITY;
      heads.push_back(scores.softmax(-1).matmul(v.narrow(1, kvh * D, D)));
    }
    x = x + ref_linear(m, p + "self_attn.o_proj", at::cat(heads, 1), c.o_proj_bias);
    const at::Tensor h2 = ref_rms(x, W(m, p + "post_attention_layernorm.weight"), c.rms_norm_eps);
    const at::Tensor g = ref_linear(m, p + "mlp.gate_proj", h2, false), u = ref_linear(m, p + "mlp.up_proj", h2, false);
    x = x + ref_linear(m, p + "mlp.down_proj", g * g.sigmoid() * u, false);
  }
  x = ref_rms(x, W(m, "model.norm.weight"), c.rms_norm_eps);
  return x.matmul((c.tie_word_embeddings ? W(m, "model.embed_tokens.weight") : W(m, "lm_head.weight")).t());
}

at::Tensor model_logits(CausalLm& m, const std::vector<std::int64_t>& ids) {
  torch::NoGradGuard no_grad;
  const auto T = static_cast<std::int64_t>(ids.size());
  const at::Tensor input = at::tensor(ids).view({1, T});
  const at::Tensor valid = at::ones({1, T}, at::kBool);
  const at::Tensor pos = at::arange(T).view({1, T});
  return m->logits(m->hidden_states(input, {pos, causal_mask(valid, 0, T, at::kFloat)}))[0].to(at::kDouble);
}

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).abs().max().item<double>() / want.abs().max().item<double>();
}

struct Arch {
  const char* name;
  const char* type;
  std::int64_t heads, kv_heads;
  bool tied, llama3;
};

class ForwardTest : public ::testing::TestWithParam<Arch> {};

TEST_P(ForwardTest, LogitsMatchIndependentFloat64Reference) {
  const Arch a = GetParam();
  CausalLm model = random_model(small_config(a.type, a.heads, a.kv_heads, a.tied, a.llama3), 7);
  const std::vector<std::int64_t> ids = {1, 5, 9, 2, 36, 0, 17, 17, 3, 30, 11, 25, 8, 4, 19, 22, 6, 13, 29, 31};
  const double err = relative_error(model_logits(model, ids), reference_logits(model, ids));
  EXPECT_LT(err, 1e-4) << a.name;
  RecordProperty("relative_error", std::to_string(err));
}

INSTANTIATE_TEST_SUITE_P(Archs, ForwardTest,
                         ::testing::Values(Arch{"llama_mha", "llama", 4, 4, false, false},
                                           Arch{"llama_gqa_tied", "llama", 4, 2, true, false},
                                           Arch{"llama31_rope_scaling", "llama", 4, 1, false, true},
                                           Arch{"qwen2_biases_gqa", "qwen2", 8, 2, true, false}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_P(ForwardTest, OneTokenMatchesTheReference) {
  // A single row takes the matrix-vector path of every projection.
  const Arch a = GetParam();
  CausalLm model = random_model(small_config(a.type, a.heads, a.kv_heads, a.tied, a.llama3), 8);
  EXPECT_LT(relative_error(model_logits(model, {13}), reference_logits(model, {13})), 1e-4) << a.name;
}

TEST_P(ForwardTest, FusedProjectionsAreViewsOfTheParameters) {
  const Arch a = GetParam();
  CausalLm model = random_model(small_config(a.type, a.heads, a.kv_heads, a.tied, a.llama3), 9);
  const std::vector<std::int64_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
  const auto names = model->named_parameters().keys();
  model->fuse_projections();
  auto& layer = *model->model->layers[1]->as<DecoderLayer>();
  ASSERT_TRUE(layer.self_attn->fused() && layer.mlp->fused());
  EXPECT_EQ(model->named_parameters().keys(), names);
  EXPECT_LT(relative_error(model_logits(model, ids), reference_logits(model, ids)), 1e-4) << a.name;
  // An in-place update of a parameter (what an optimizer step does) reaches
  // the joined tensors: the fused (no-grad) forward follows it.
  {
    torch::NoGradGuard no_grad;
    layer.self_attn->v_proj->weight.add_(0.25);
    layer.mlp->up_proj->weight.mul_(-1.5);
  }
  EXPECT_TRUE(layer.self_attn->fused() && layer.mlp->fused());
  EXPECT_LT(relative_error(model_logits(model, ids), reference_logits(model, ids)), 1e-4) << a.name;
  // With gradients the separate projections run and each parameter gets its own.
  const auto T = static_cast<std::int64_t>(ids.size());
  const at::Tensor pos = at::arange(T).view({1, T});
  model
      ->logits(model->hidden_states(at::tensor(ids).view({1, T}),
                                    {pos, causal_mask(at::ones({1, T}, at::kBool), 0, T, at::kFloat)}))
      .sum()
      .backward();
  ASSERT_TRUE(layer.self_attn->k_proj->weight.grad().defined());
  EXPECT_EQ(layer.self_attn->k_proj->weight.grad().sizes(), layer.self_attn->k_proj->weight.sizes());
  EXPECT_GT(layer.mlp->gate_proj->weight.grad().abs().sum().item<double>(), 0.0);
  // A move gives the parameters storage of their own: the forward falls back
  // to separate projections until fused again.
  model->to(at::kDouble);
  EXPECT_FALSE(layer.self_attn->fused());
  EXPECT_LT(relative_error(model_logits(model, ids), reference_logits(model, ids)), 1e-5) << a.name;
  model->fuse_projections();
  EXPECT_TRUE(layer.self_attn->fused() && layer.mlp->fused());
  EXPECT_LT(relative_error(model_logits(model, ids), reference_logits(model, ids)), 1e-5) << a.name;
}

TEST(Forward, Llama3ScalingChangesLongWavelengthsOnly) {
  // head_dim 8, theta 500: wavelengths 6.3, 30, 140, 660 against the bands
  // (<16 kept, 16..64 interpolated, >64 divided by the factor 8).
  const ModelConfig plain = small_config("llama", 4, 2, false, false);
  const ModelConfig scaled = small_config("llama", 4, 2, false, true, 64);
  const std::vector<double> a = ref_inv_freq(plain), b = ref_inv_freq(scaled);
  RotaryEmbedding rotary(scaled);
  ASSERT_EQ(rotary->inv_freq.size(0), static_cast<std::int64_t>(b.size()));
  for (std::size_t i = 0; i < b.size(); ++i)
    EXPECT_NEAR(rotary->inv_freq[static_cast<std::int64_t>(i)].item<double>(), b[i], 1e-6 * b[i]);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_DOUBLE_EQ(a[0], b[0]);  // short wavelength: untouched
  EXPECT_LT(b[1], a[1]);         // middle band: interpolated
  EXPECT_GT(b[1], a[1] / 8.0);
  EXPECT_NEAR(b[2], a[2] / 8.0, 1e-12);  // long wavelengths: divided by the factor
  EXPECT_NEAR(b[3], a[3] / 8.0, 1e-12);
}

TEST(Forward, LeftPaddingDoesNotChangeTheLogits) {
  CausalLm model = random_model(small_config("qwen2", 4, 2, false, false), 3);
  torch::NoGradGuard no_grad;
  const std::vector<std::int64_t> ids = {4, 8, 15, 16, 23, 34};
  const at::Tensor want = model_logits(model, ids);
  const std::int64_t pad = 3, T = 6;
  at::Tensor input = at::cat({at::zeros({1, pad}, at::kLong), at::tensor(ids).view({1, T})}, 1);
  at::Tensor valid = at::cat({at::zeros({1, pad}, at::kBool), at::ones({1, T}, at::kBool)}, 1);
  at::Tensor pos = (valid.to(at::kLong).cumsum(1) - 1).clamp_min(0);
  const at::Tensor got =
      model->logits(model->hidden_states(input, {pos, causal_mask(valid, 0, pad + T, at::kFloat)}))[0].narrow(0, pad,
                                                                                                              T);
  EXPECT_LT(relative_error(got.to(at::kDouble), want), 1e-5);
}

// ----------------------------------------------------------------- generation

using test::decode;
using test::options;
using test::request;

TEST(Generation, GreedyAloneEqualsGreedyInABatchOfOthers) {
  CausalLm model = random_model(small_config("llama", 4, 2, false, true), 11);
  const GenerationRequest target = request({3, 1, 4, 1, 5}, 1, 0.0, 12);
  const auto alone = generate(model, {target}, options());
  const auto batch = generate(
      model, {request({9, 2}, 2, 0.8, 20), target, request({7, 7, 7, 7, 7, 7, 7, 7, 7}, 3, 0.0, 5)}, options());
  const GeneratedSample &a = alone[0].samples[0], &b = batch[1].samples[0];
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_NEAR(a.cumulative_logprob, b.cumulative_logprob, 1e-5);
  EXPECT_EQ(a.num_tokens(), 12);
  EXPECT_EQ(a.finish_reason, FinishReason::Length);
  EXPECT_EQ(batch[0].samples.size(), 2u);
  EXPECT_EQ(batch[2].samples.size(), 3u);
}

TEST(Generation, CumulativeLogprobIsTheModelsOwn) {
  CausalLm model = random_model(small_config("llama", 4, 4, false, false), 5);
  const std::vector<TokenId> prompt = {2, 7, 1};
  const auto out = generate(model, {request(prompt, 1, 0.9, 6, 42)}, options());
  const GeneratedSample& s = out[0].samples[0];
  // Re-score prompt + generated tokens in one forward pass.
  std::vector<std::int64_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), s.token_ids.begin(), s.token_ids.end());
  const at::Tensor logp = model_logits(model, all).log_softmax(-1);
  double sum = 0;
  for (std::size_t i = 0; i < s.token_ids.size(); ++i)
    sum += logp[static_cast<std::int64_t>(prompt.size() + i - 1)][s.token_ids[i]].item<double>();
  EXPECT_NEAR(s.cumulative_logprob, sum, 1e-4);
}

TEST(Generation, SamplesOfOneRequestEqualSeparateRequests) {
  // n samples sharing one prefill == the same samples requested one by one
  // (sample i of a request depends only on the request's seed and i).
  CausalLm model = random_model(small_config("qwen2", 4, 2, false, false), 9);
  const auto shared = generate(model, {request({5, 6, 7}, 4, 1.0, 10, 77)}, options());
  ASSERT_EQ(shared[0].samples.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    GenerationRequest one = request({5, 6, 7}, i + 1, 1.0, 10, 77);
    const auto separate = generate(model, {one}, options());
    EXPECT_EQ(separate[0].samples[static_cast<std::size_t>(i)].token_ids,
              shared[0].samples[static_cast<std::size_t>(i)].token_ids);
  }
  std::set<std::vector<TokenId>> distinct;
  for (const auto& s : shared[0].samples) distinct.insert(s.token_ids);
  EXPECT_GT(distinct.size(), 1u) << "temperature 1 samples should differ";
}

TEST(Generation, DeterministicForAFixedSeedAndDifferentOtherwise) {
  CausalLm model = random_model(small_config("llama", 4, 2, true, false), 13);
  const auto a = generate(model, {request({1, 2, 3}, 3, 1.0, 15, 5)}, options());
  const auto b = generate(model, {request({1, 2, 3}, 3, 1.0, 15, 5)}, options());
  const auto c = generate(model, {request({1, 2, 3}, 3, 1.0, 15, 6)}, options());
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(a[0].samples[i].token_ids, b[0].samples[i].token_ids);
  bool any_differs = false;
  for (std::size_t i = 0; i < 3; ++i) any_differs |= a[0].samples[i].token_ids != c[0].samples[i].token_ids;
  EXPECT_TRUE(any_differs);
}

TEST(Generation, StopStringsAndEos) {
  CausalLm model = random_model(small_config("llama", 4, 2, false, false), 21);
  // Find what greedy decoding produces, then stop on a piece of it.
  const auto free_run = generate(model, {request({1, 2}, 1, 0.0, 12)}, options());
  const GeneratedSample& f = free_run[0].samples[0];
  ASSERT_EQ(f.text, decode(f.token_ids));
  const std::string stop = f.text.substr(4, 2);
  GenerationRequest r = request({1, 2}, 1, 0.0, 12);
  r.stop = {stop};
  const GeneratedSample s = generate(model, {r}, options())[0].samples[0];
  EXPECT_EQ(s.finish_reason, FinishReason::Stop);
  EXPECT_EQ(s.text, f.text.substr(0, f.text.find(stop)));  // the stop text is not included
  EXPECT_EQ(s.token_ids, std::vector<TokenId>(f.token_ids.begin(),
                                              f.token_ids.begin() + std::ptrdiff_t(f.text.find(stop) + stop.size())));
  // EOS: the first generated token declared as end of sequence.
  const GeneratedSample e = generate(model, {request({1, 2}, 1, 0.0, 12)}, options({f.token_ids[0]}))[0].samples[0];
  EXPECT_EQ(e.finish_reason, FinishReason::Eos);
  EXPECT_EQ(e.num_tokens(), 1);
}

TEST(Generation, TopPOfTinyMassIsGreedy) {
  CausalLm model = random_model(small_config("llama", 4, 2, false, false), 23);
  GenerationRequest nucleus = request({4, 4, 2}, 3, 1.0, 8, 99);
  nucleus.top_p = 1e-9;  // keeps only the most probable token
  const auto a = generate(model, {nucleus}, options());
  const auto g = generate(model, {request({4, 4, 2}, 1, 0.0, 8)}, options());
  for (const auto& s : a[0].samples) EXPECT_EQ(s.token_ids, g[0].samples[0].token_ids);
}

TEST(Generation, BatchRowLimitGivesTheSameResults) {
  CausalLm model = random_model(small_config("llama", 4, 2, false, false), 29);
  const std::vector<GenerationRequest> reqs = {request({1}, 2, 0.7, 6, 1), request({2, 3}, 3, 0.7, 6, 2),
                                               request({4, 5, 6}, 1, 0.0, 6, 3)};
  const auto all = generate(model, reqs, options());
  GenerationOptions limited = options();
  limited.max_batch_rows = 2;
  const auto chunked = generate(model, reqs, limited);
  for (std::size_t r = 0; r < reqs.size(); ++r)
    for (std::size_t s = 0; s < all[r].samples.size(); ++s)
      EXPECT_EQ(all[r].samples[s].token_ids, chunked[r].samples[s].token_ids);
}

TEST(Generation, RejectsBadRequests) {
  CausalLm model = random_model(small_config("llama", 4, 2, false, false), 31);
  EXPECT_THROW(generate(model, {request({}, 1, 0.0, 4)}, options()), std::invalid_argument);
  EXPECT_THROW(generate(model, {request({1000}, 1, 0.0, 4)}, options()), std::invalid_argument);
  EXPECT_THROW(generate(model, {request({1}, 0, 0.0, 4)}, options()), std::invalid_argument);
}

}  // namespace
}  // namespace genius::llama
