// The Llama / Qwen2 decoder in libtorch, parameter names as in Hugging Face
// transformers (model.layers.N.self_attn.q_proj.weight, ...), so weights load
// from and save to safetensors checkpoints unchanged.
//
//   x = embed(ids)
//   for each layer:  x = x + attn(rms_norm(x));  x = x + mlp(rms_norm(x))
//   logits = lm_head(rms_norm(x))          (lm_head tied to embed when configured)
//
//   attn: grouped-query attention with rotary position embeddings (HF's
//         non-interleaved halves; llama3 frequency scaling); softmax in float32
//   mlp:  down(silu(gate(x)) * up(x))
#pragma once

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include "model_config.hpp"

namespace genius::llama {

/// Keys and values of every layer for a batch of sequences that share one
/// timeline (prompts are left-padded), preallocated to `capacity` positions.
struct KvCache {
  std::vector<at::Tensor> keys, values;  ///< per layer: [batch, kv_heads, capacity, head_dim]
  std::int64_t length = 0;               ///< positions filled so far

  /// Keep / duplicate batch rows: row i of the result is row index[i].
  void select_rows(const at::Tensor& index);
};

/// What the attention of one forward call may see.
struct AttentionInputs {
  at::Tensor positions;  ///< [batch, seq] rotary position of each query token
  at::Tensor mask;       ///< [batch, 1, seq, keys] additive: 0 or the dtype's lowest value
};

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(std::int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

class RotaryEmbeddingImpl : public torch::nn::Module {
 public:
  explicit RotaryEmbeddingImpl(const ModelConfig& config);
  /// cos and sin, each [batch, seq, head_dim], float32.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& positions);
  at::Tensor inv_freq;  ///< buffer, not saved (as in HF)
};
TORCH_MODULE(RotaryEmbedding);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     KvCache* cache, std::size_t layer);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  std::int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     KvCache* cache, std::size_t layer);
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

/// HF's LlamaModel: the transformer body (registered as "model").
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
  RotaryEmbedding rotary{nullptr};
};
TORCH_MODULE(Decoder);

/// HF's LlamaForCausalLM / Qwen2ForCausalLM.
class CausalLmImpl : public torch::nn::Module {
 public:
  explicit CausalLmImpl(ModelConfig config);

  /// Final hidden states [batch, seq, hidden] (after the last norm). With a
  /// cache, `ids` are the next tokens and their keys/values are appended.
  at::Tensor hidden_states(const at::Tensor& ids, const AttentionInputs& inputs, KvCache* cache = nullptr);
  /// Vocabulary logits for hidden states of any leading shape.
  at::Tensor logits(const at::Tensor& hidden);
  /// An empty cache for `batch` rows and `capacity` positions.
  KvCache make_cache(std::int64_t batch, std::int64_t capacity) const;

  const ModelConfig& config() const { return config_; }
  /// Parameters by HF name; the tied head appears once, as the embedding.
  std::vector<std::pair<std::string, at::Tensor>> checkpoint_tensors() const;

  Decoder model{nullptr};
  torch::nn::Linear lm_head{nullptr};  ///< null when tied to model.embed_tokens

 private:
  ModelConfig config_;
};
TORCH_MODULE(CausalLm);

/// The additive attention mask for queries at timeline positions
/// [query_start, query_start + seq) over keys [0, keys): a key is visible when
/// it is valid (not padding) and not in the future.
at::Tensor causal_mask(const at::Tensor& key_valid, std::int64_t query_start, std::int64_t seq, at::ScalarType dtype);

}  // namespace genius::llama
