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

class LoraAdapters;

/// Keys and values of every layer for a batch of sequences, each stored from
/// slot 0: the token at position p of a row sits in slot p. One tensor holds
/// all of it, [layers, 2 (key, value), rows, kv_heads, capacity, head_dim],
/// so a row's whole prefix is one strided view (what the prefix cache stores)
/// and a forward over the first `batch` rows needs no copy.
struct KvCache {
  at::Tensor storage;
  /// The next forward attends to slots [0, visible) of each row; the mask
  /// hides slots after each query's position.
  std::int64_t visible = 0;

  std::int64_t rows() const { return storage.size(2); }
  std::int64_t capacity() const { return storage.size(4); }
  /// [rows, kv_heads, capacity, head_dim] views of one layer's keys / values.
  at::Tensor keys(std::size_t layer) const;
  at::Tensor values(std::size_t layer) const;
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

/// A forward's rotary tables, each [batch, 1, seq, head_dim] in the model's
/// dtype: cos, and sin with rotate_half's sign folded in (-sin on the first
/// half), so that rotating x is x * cos + roll(x, head_dim / 2) * sin.
struct RotaryTables {
  at::Tensor cos, sin;
};

class RotaryEmbeddingImpl : public torch::nn::Module {
 public:
  explicit RotaryEmbeddingImpl(const ModelConfig& config);
  /// The tables for `positions` [batch, seq], computed in float32.
  RotaryTables forward(const at::Tensor& positions, at::ScalarType dtype);
  at::Tensor inv_freq;  ///< buffer, not saved (as in HF)
};
TORCH_MODULE(RotaryEmbedding);

/// Linear layers run as one product: their weights (and biases) become row
/// blocks of one tensor, the parameters views of it, so names, shapes,
/// gradients, checkpoints and in-place optimizer steps are unchanged and no
/// weight is held twice. The output is the parts' outputs side by side.
class JoinedLinears {
 public:
  /// Joins `parts` (all with biases or none); a no-op while they are joined.
  void join(std::vector<torch::nn::Linear> parts);
  /// Whether the parts are still views of the joined tensors (a move to
  /// another device or dtype, or a tensor assigned, gives them their own).
  bool holds() const;
  at::Tensor forward(const at::Tensor& x) const;

 private:
  std::vector<torch::nn::Linear> parts_;
  at::Tensor weight_, bias_;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);
  /// mask: [batch, 1, 1, seq, keys] additive.
  at::Tensor forward(const at::Tensor& x, const RotaryTables& rope, const at::Tensor& mask, const at::Tensor& positions,
                     KvCache* cache, std::size_t layer, const LoraAdapters* lora = nullptr);
  /// Makes q/k/v_proj's weights (and biases) row blocks of one tensor, so
  /// that a forward without gradients computes them in one product. A no-op
  /// while they still are.
  void fuse_projections();
  bool fused() const;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  /// softmax(q k^T / sqrt(d) + mask) v for q [B, heads, seq, d], k and v
  /// [B, kv_heads, keys, d], mask [B, 1, 1, seq, keys]: [B, heads, seq, d].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) const;

  std::int64_t heads_, kv_heads_, head_dim_;
  JoinedLinears qkv_;  ///< [q; k; v] once fused
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x, std::size_t layer = 0, const LoraAdapters* lora = nullptr);
  /// As AttentionImpl::fuse_projections, for gate_proj and up_proj.
  void fuse_projections();
  bool fused() const;
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

 private:
  JoinedLinears gate_up_;
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x, const RotaryTables& rope, const at::Tensor& mask, const at::Tensor& positions,
                     KvCache* cache, std::size_t layer, const LoraAdapters* lora = nullptr);
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

/// layer.forward(x, ...) with gradients, keeping none of its activations:
/// the backward pass runs the layer again (same inputs, same random state)
/// and differentiates that. Gradients are those of the plain forward.
at::Tensor checkpointed_layer(DecoderLayerImpl& layer, const at::Tensor& x, const RotaryTables& rope,
                              const at::Tensor& mask, const at::Tensor& positions, std::size_t index,
                              const LoraAdapters* lora);

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
  /// cache, the keys/values of `ids` are written to the slots named by
  /// `inputs.positions` in the cache's first `batch` rows, and attention reads
  /// slots [0, cache->visible).
  at::Tensor hidden_states(const at::Tensor& ids, const AttentionInputs& inputs, KvCache* cache = nullptr);
  /// Vocabulary logits for hidden states of any leading shape.
  at::Tensor logits(const at::Tensor& hidden);
  /// Joins each layer's q/k/v and gate/up weights into one tensor per group,
  /// the parameters becoming views of it (names, shapes, gradients and
  /// checkpoints unchanged): forwards without gradients then run one matrix
  /// product per group. Call again after moving the model (a no-op while the
  /// views hold); a layer whose views broke runs unfused until then.
  void fuse_projections();
  /// A zeroed cache for `batch` rows and `capacity` positions.
  KvCache make_cache(std::int64_t batch, std::int64_t capacity) const;
  /// Bytes of keys and values one token takes over all layers.
  std::int64_t kv_bytes_per_token() const;

  const ModelConfig& config() const { return config_; }
  /// Parameters by HF name; the tied head appears once, as the embedding.
  std::vector<std::pair<std::string, at::Tensor>> checkpoint_tensors() const;

  Decoder model{nullptr};
  torch::nn::Linear lm_head{nullptr};  ///< null when tied to model.embed_tokens
  /// LoRA adapters every forward adds (lora.hpp); null = the base model. Not
  /// owned: the backend points it at its adapters before each call.
  const LoraAdapters* lora = nullptr;
  /// While training with gradients: keep only each layer's input and
  /// recompute the layer in the backward pass (activation checkpointing).
  bool gradient_checkpointing = false;

 private:
  ModelConfig config_;
};
TORCH_MODULE(CausalLm);

/// The additive attention mask for queries at timeline positions
/// [query_start, query_start + seq) over keys [0, keys): a key is visible when
/// it is valid (not padding) and not in the future.
at::Tensor causal_mask(const at::Tensor& key_valid, std::int64_t query_start, std::int64_t seq, at::ScalarType dtype);

/// The additive mask for rows stored from slot 0 (KvCache): query j of row b
/// at position positions[b][j] sees slots [0, positions[b][j]] of [0, keys).
at::Tensor position_mask(const at::Tensor& positions, std::int64_t keys, at::ScalarType dtype);

}  // namespace genius::llama
