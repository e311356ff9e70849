#include "llama_model.hpp"

#include <cmath>

#include <torch/torch.h>
#include <torch/version.h>

#include "lora.hpp"

// at::scaled_dot_product_attention with grouped key/value heads (enable_gqa)
// came with libtorch 2.5; 1.13 computes attention with its own products.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
#define GENIUS_TORCH_SDPA_GQA 1
#include <optional>
#else
#define GENIUS_TORCH_SDPA_GQA 0
#endif

namespace genius::llama {

at::Tensor KvCache::keys(std::size_t layer) const {
  return storage.select(0, static_cast<std::int64_t>(layer)).select(0, 0);
}

at::Tensor KvCache::values(std::size_t layer) const {
  return storage.select(0, static_cast<std::int64_t>(layer)).select(0, 1);
}

namespace {

// The dtype's lowest finite value, not -inf: a fully masked row (a padding
// query) then gives a uniform softmax instead of NaN; its output is unused.
double lowest_value(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? -3.38e38 : dtype == at::kHalf ? -65504.0 : -3.4028234663852886e38;
}

}  // namespace

at::Tensor causal_mask(const at::Tensor& key_valid, std::int64_t query_start, std::int64_t seq, at::ScalarType dtype) {
  const auto keys = key_valid.size(1);
  const auto opts = at::TensorOptions().device(key_valid.device());
  const at::Tensor query_pos = at::arange(query_start, query_start + seq, opts.dtype(at::kLong)).view({seq, 1});
  const at::Tensor key_pos = at::arange(keys, opts.dtype(at::kLong)).view({1, keys});
  const at::Tensor visible = (key_pos <= query_pos).unsqueeze(0) & key_valid.unsqueeze(1);  // [B, seq, keys]
  return at::where(visible, at::zeros({}, opts.dtype(dtype)), at::full({}, lowest_value(dtype), opts.dtype(dtype)))
      .unsqueeze(1);
}

at::Tensor position_mask(const at::Tensor& positions, std::int64_t keys, at::ScalarType dtype) {
  const auto opts = at::TensorOptions().device(positions.device());
  const at::Tensor slots = at::arange(keys, opts.dtype(at::kLong)).view({1, 1, keys});
  const at::Tensor visible = slots <= positions.unsqueeze(-1);  // [B, seq, keys]
  return at::where(visible, at::zeros({}, opts.dtype(dtype)), at::full({}, lowest_value(dtype), opts.dtype(dtype)))
      .unsqueeze(1);
}

// ----------------------------------------------------------------- RMSNorm

RmsNormImpl::RmsNormImpl(std::int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

// y = weight * x / sqrt(mean(x^2) + eps), normalised in float32 as HF does.
at::Tensor RmsNormImpl::forward(const at::Tensor& x) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normed.to(x.scalar_type());
}

// ------------------------------------------------------------------ RoPE

RotaryEmbeddingImpl::RotaryEmbeddingImpl(const ModelConfig& c) {
  // inv_freq[i] = theta^(-2i/d), computed in float32 like HF.
  at::Tensor freq =
      1.0 / at::pow(c.rope_theta, at::arange(0, c.head_dim, 2, at::kLong).to(at::kFloat) / double(c.head_dim));
  if (c.rope_scaling.type == "llama3") {
    // Llama 3.1: long wavelengths are divided by `factor`, short ones kept,
    // and the band in between interpolated smoothly.
    const RopeScaling& s = c.rope_scaling;
    const double old_len = double(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
    const at::Tensor wavelen = 2 * M_PI / freq;
    at::Tensor scaled = at::where(wavelen > low_wavelen, freq / s.factor, freq);
    const at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    const at::Tensor medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen);
    freq = at::where(medium, smoothed, scaled);
  }
  inv_freq = register_buffer("inv_freq", freq);
}

RotaryTables RotaryEmbeddingImpl::forward(const at::Tensor& positions, at::ScalarType dtype) {
  const at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq.view({1, 1, -1});  // [B, T, D/2]
  const at::Tensor sin = angles.sin();
  return {at::cat({angles, angles}, -1).cos().unsqueeze(1).to(dtype), at::cat({-sin, sin}, -1).unsqueeze(1).to(dtype)};
}

namespace {

// HF's x * cos + rotate_half(x) * sin, where rotate_half(x1, x2) = (-x2, x1)
// over the two halves of the last dim. `rope.sin` carries rotate_half's sign
// (-sin on the first half), so the rotation is a roll: the same products and
// sums, in fewer operations. x: [B, heads, T, D]; rope: [B, 1, T, D].
at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& rope) {
  return x * rope.cos + x.roll(x.size(-1) / 2, -1) * rope.sin;
}

torch::nn::Linear linear(std::int64_t in, std::int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// x W^T (+ b). One row goes through a matrix-vector product: BLAS's
// matrix-matrix path packs the whole weight into panels on every call, which
// for a single row (decoding one sequence) costs more than the product.
at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {}) {
  if (x.numel() != x.size(-1)) return bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
  std::vector<std::int64_t> shape = x.sizes().vec();
  shape.back() = weight.size(0);
  at::Tensor y = at::mv(weight, x.reshape({-1}));
  if (bias.defined()) y = y + bias;
  return y.view(shape);
}

at::Tensor project(const torch::nn::Linear& layer, const at::Tensor& x) {
  return project(x, layer->weight, layer->bias);
}

}  // namespace

// --------------------------------------------------------- joined linears

namespace {

// The tensors `parts` become row blocks of one new tensor, returned: an
// optimizer step or a weight load writes through them into it.
at::Tensor join_rows(const std::vector<at::Tensor*>& parts) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> values;
  for (const at::Tensor* part : parts) values.push_back(*part);
  at::Tensor joined = at::cat(values, 0);
  std::int64_t offset = 0;
  for (at::Tensor* part : parts) {
    const auto rows = part->size(0);
    part->set_data(joined.narrow(0, offset, rows));
    offset += rows;
  }
  return joined;
}

// Whether `parts` are still the row blocks of `joined`, in order. Pointer
// arithmetic only: this runs in every forward.
bool rows_of(const at::Tensor& joined, const std::vector<const at::Tensor*>& parts) {
  if (!joined.defined()) return false;
  const auto* base = static_cast<const char*>(joined.data_ptr());
  const auto row_bytes = joined.stride(0) * static_cast<std::int64_t>(joined.element_size());
  std::int64_t offset = 0;
  for (const at::Tensor* part : parts) {
    if (!part->defined() || !part->is_contiguous() || !part->is_alias_of(joined) ||
        part->data_ptr() != base + offset * row_bytes)
      return false;
    offset += part->size(0);
  }
  return offset == joined.size(0);
}

}  // namespace

void JoinedLinears::join(std::vector<torch::nn::Linear> parts) {
  if (holds()) return;  // a layer's parts never change: only whether they are still joined
  std::vector<at::Tensor*> weights, biases;
  for (auto& part : parts) {
    weights.push_back(&part->weight);
    if (part->bias.defined()) biases.push_back(&part->bias);
  }
  weight_ = join_rows(weights);
  bias_ = biases.empty() ? at::Tensor() : join_rows(biases);
  parts_ = std::move(parts);
}

bool JoinedLinears::holds() const {
  std::vector<const at::Tensor*> weights, biases;
  for (const auto& part : parts_) {
    weights.push_back(&part->weight);
    if (part->bias.defined()) biases.push_back(&part->bias);
  }
  return !parts_.empty() && rows_of(weight_, weights) && (biases.empty() || rows_of(bias_, biases));
}

at::Tensor JoinedLinears::forward(const at::Tensor& x) const {
  return project(x, weight_, bias_);
}

// ------------------------------------------------------------- attention

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  q_proj = register_module("q_proj", linear(c.hidden_size, heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", linear(heads_ * head_dim_, c.hidden_size, c.o_proj_bias));
}

void AttentionImpl::fuse_projections() {
  qkv_.join({q_proj, k_proj, v_proj});
}

bool AttentionImpl::fused() const {
  return qkv_.holds();
}

at::Tensor AttentionImpl::attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const at::Tensor& mask) const {
  const auto batch = q.size(0), seq = q.size(2);
#if GENIUS_TORCH_SDPA_GQA
  // libtorch >= 2.5 on a GPU: one fused kernel, the grouped query heads
  // reading their key/value head (enable_gqa), the additive mask as given.
  if (q.is_cuda())
    return at::scaled_dot_product_attention(q, k, v, mask.squeeze(1), /*dropout_p=*/0.0, /*is_causal=*/false,
                                            /*scale=*/std::nullopt, /*enable_gqa=*/true);
#endif
  // Grouped-query attention: each group of heads_/kv_heads_ query heads reads
  // one key/value head. Fold the group into the query length instead of
  // copying keys and values.
  const auto group = heads_ / kv_heads_, keys = k.size(2);
  const at::Tensor qg = q.reshape({batch, kv_heads_, group * seq, head_dim_});
  at::Tensor scores = at::matmul(qg, k.transpose(-1, -2)).view({batch, kv_heads_, group, seq, keys});
  scores = scores / std::sqrt(double(head_dim_)) + mask;  // mask: [B, 1, 1, seq, keys]
  const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs.view({batch, kv_heads_, group * seq, keys}), v).view({batch, heads_, seq, head_dim_});
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const RotaryTables& rope, const at::Tensor& mask,
                                  const at::Tensor& positions, KvCache* cache, std::size_t layer,
                                  const LoraAdapters* lora) {
  const auto batch = x.size(0), seq = x.size(1);
  at::Tensor q, k, v;
  if (!at::GradMode::is_enabled() && fused()) {
    // One product for the three projections (gradients need the separate ones).
    const at::Tensor qkv = qkv_.forward(x);
    q = qkv.narrow(-1, 0, heads_ * head_dim_);
    k = qkv.narrow(-1, heads_ * head_dim_, kv_heads_ * head_dim_);
    v = qkv.narrow(-1, (heads_ + kv_heads_) * head_dim_, kv_heads_ * head_dim_);
  } else {
    q = project(q_proj, x);
    k = project(k_proj, x);
    v = project(v_proj, x);
  }
  if (lora) {
    q = lora->apply(layer, LoraTarget::q_proj, x, q, is_training());
    k = lora->apply(layer, LoraTarget::k_proj, x, k, is_training());
    v = lora->apply(layer, LoraTarget::v_proj, x, v, is_training());
  }
  q = q.view({batch, seq, heads_, head_dim_}).transpose(1, 2);
  k = k.view({batch, seq, kv_heads_, head_dim_}).transpose(1, 2);
  v = v.view({batch, seq, kv_heads_, head_dim_}).transpose(1, 2);
  q = apply_rotary(q, rope);
  k = apply_rotary(k, rope);
  if (cache) {
    // Slot = position: scatter each token's key and value to its row's slot.
    const at::Tensor slot = positions.view({batch, 1, seq, 1}).expand({batch, kv_heads_, seq, head_dim_});
    at::Tensor keys = cache->keys(layer).narrow(0, 0, batch), values = cache->values(layer).narrow(0, 0, batch);
    keys.scatter_(2, slot, k);
    values.scatter_(2, slot, v);
    k = keys.narrow(2, 0, cache->visible);
    v = values.narrow(2, 0, cache->visible);
  }
  const at::Tensor out =
      attend(q, k, v, mask).transpose(1, 2).reshape({batch, seq, heads_ * head_dim_});  // [B, seq, heads * dim]
  const at::Tensor y = project(o_proj, out);
  return lora ? lora->apply(layer, LoraTarget::o_proj, out, y, is_training()) : y;
}

// ------------------------------------------------------------------- MLP

MlpImpl::MlpImpl(const ModelConfig& c) {
  gate_proj = register_module("gate_proj", linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  up_proj = register_module("up_proj", linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  down_proj = register_module("down_proj", linear(c.intermediate_size, c.hidden_size, c.mlp_bias));
}

void MlpImpl::fuse_projections() {
  gate_up_.join({gate_proj, up_proj});
}

bool MlpImpl::fused() const {
  return gate_up_.holds();
}

at::Tensor MlpImpl::forward(const at::Tensor& x, std::size_t layer, const LoraAdapters* lora) {
  at::Tensor gate, up;
  if (!at::GradMode::is_enabled() && fused()) {
    const at::Tensor gate_up = gate_up_.forward(x);
    const auto width = gate_up.size(-1) / 2;
    gate = gate_up.narrow(-1, 0, width);
    up = gate_up.narrow(-1, width, width);
  } else {
    gate = project(gate_proj, x);
    up = project(up_proj, x);
  }
  if (!lora) return project(down_proj, at::silu(gate) * up);
  gate = lora->apply(layer, LoraTarget::gate_proj, x, gate, is_training());
  up = lora->apply(layer, LoraTarget::up_proj, x, up, is_training());
  const at::Tensor h = at::silu(gate) * up;
  return lora->apply(layer, LoraTarget::down_proj, h, project(down_proj, h), is_training());
}

// ----------------------------------------------------------------- layers

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", Mlp(c));
  input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const RotaryTables& rope, const at::Tensor& mask,
                                     const at::Tensor& positions, KvCache* cache, std::size_t layer,
                                     const LoraAdapters* lora) {
  const at::Tensor h = x + self_attn->forward(input_layernorm(x), rope, mask, positions, cache, layer, lora);
  return h + mlp->forward(post_attention_layernorm(h), layer, lora);
}

DecoderImpl::DecoderImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps));
  rotary = register_module("rotary_emb", RotaryEmbedding(c));
}

CausalLmImpl::CausalLmImpl(ModelConfig config) : config_(std::move(config)) {
  model = register_module("model", Decoder(config_));
  if (!config_.tie_word_embeddings)
    lm_head = register_module("lm_head", linear(config_.hidden_size, config_.vocab_size, false));
}

at::Tensor CausalLmImpl::hidden_states(const at::Tensor& ids, const AttentionInputs& inputs, KvCache* cache) {
  at::Tensor x = model->embed_tokens(ids);
  // Once per forward, not per layer: the rotary tables and the mask, in the
  // model's dtype and shaped to broadcast over heads (and query groups).
  const RotaryTables rope = model->rotary->forward(inputs.positions, x.scalar_type());
  const at::Tensor mask = inputs.mask.to(x.scalar_type()).unsqueeze(1);
  const bool recompute = gradient_checkpointing && at::GradMode::is_enabled() && is_training() && !cache;
  for (std::size_t i = 0; i < model->layers->size(); ++i) {
    DecoderLayerImpl* layer = model->layers[i]->as<DecoderLayer>();
    x = recompute ? checkpointed_layer(*layer, x, rope, mask, inputs.positions, i, lora)
                  : layer->forward(x, rope, mask, inputs.positions, cache, i, lora);
  }
  return model->norm(x);
}

at::Tensor CausalLmImpl::logits(const at::Tensor& hidden) {
  return project(hidden, lm_head ? lm_head->weight : model->embed_tokens->weight);
}

void CausalLmImpl::fuse_projections() {
  for (std::size_t i = 0; i < model->layers->size(); ++i) {
    auto& layer = *model->layers[i]->as<DecoderLayer>();
    layer.self_attn->fuse_projections();
    layer.mlp->fuse_projections();
  }
}

KvCache CausalLmImpl::make_cache(std::int64_t batch, std::int64_t capacity) const {
  KvCache cache;
  cache.storage =
      at::zeros({config_.num_hidden_layers, 2, batch, config_.num_key_value_heads, capacity, config_.head_dim},
                model->embed_tokens->weight.options());
  return cache;
}

std::int64_t CausalLmImpl::kv_bytes_per_token() const {
  return 2 * config_.num_hidden_layers * config_.num_key_value_heads * config_.head_dim *
         static_cast<std::int64_t>(model->embed_tokens->weight.element_size());
}

std::vector<std::pair<std::string, at::Tensor>> CausalLmImpl::checkpoint_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

}  // namespace genius::llama
