// Activation checkpointing of a decoder layer as a custom autograd Function:
// the forward runs without a graph and saves only the layer's input; the
// backward recomputes the layer with gradients and differentiates it with
// respect to that input and the layer's trainable tensors.
#include <torch/torch.h>

#include "llama_model.hpp"
#include "lora.hpp"

namespace genius::llama {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <class T>
T* pointer(const at::IValue& v) {
  return reinterpret_cast<T*>(static_cast<std::intptr_t>(v.toInt()));
}
template <class T>
std::int64_t address(T* p) {
  return static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(p));
}

class LayerRecompute : public torch::autograd::Function<LayerRecompute> {
 public:
  // Inputs that autograd tracks: x, the trainable tensors, and the rotary
  // tables, mask and positions (which need no gradient).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList params, const at::Tensor& cos,
                            const at::Tensor& sin, const at::Tensor& mask, const at::Tensor& positions,
                            DecoderLayerImpl* layer, std::int64_t index, const LoraAdapters* lora) {
    std::vector<at::Tensor> saved = {x};
    saved.insert(saved.end(), params.begin(), params.end());
    saved.insert(saved.end(), {cos, sin, mask, positions});
    ctx->save_for_backward(saved);
    ctx->saved_data["params"] = static_cast<std::int64_t>(params.size());
    ctx->saved_data["layer"] = address(layer);
    ctx->saved_data["lora"] = address(lora);
    ctx->saved_data["index"] = index;
    // Dropout draws from the device's generator: the recompute replays it.
    ctx->saved_data["rng"] = at::globalContext().defaultGenerator(x.device()).get_state();
    return layer->forward(x, {cos, sin}, mask, positions, nullptr, static_cast<std::size_t>(index), lora);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const variable_list saved = ctx->get_saved_variables();
    const auto n = static_cast<std::size_t>(ctx->saved_data["params"].toInt());
    const at::Tensor& x = saved[0];
    const variable_list params(saved.begin() + 1, saved.begin() + 1 + static_cast<std::ptrdiff_t>(n));
    const at::Tensor &cos = saved[n + 1], &sin = saved[n + 2], &mask = saved[n + 3], &positions = saved[n + 4];
    auto* layer = pointer<DecoderLayerImpl>(ctx->saved_data["layer"]);
    const auto* lora = pointer<const LoraAdapters>(ctx->saved_data["lora"]);
    const auto index = static_cast<std::size_t>(ctx->saved_data["index"].toInt());

    at::Generator generator = at::globalContext().defaultGenerator(x.device());
    const at::Tensor now = generator.get_state();
    generator.set_state(ctx->saved_data["rng"].toTensor());
    const at::Tensor input = x.detach().requires_grad_(x.requires_grad());
    at::Tensor out;
    {
      at::AutoGradMode with_grad(true);
      out = layer->forward(input, {cos, sin}, mask, positions, nullptr, index, lora);
    }
    generator.set_state(now);

    variable_list wrt;
    if (input.requires_grad()) wrt.push_back(input);
    wrt.insert(wrt.end(), params.begin(), params.end());
    const variable_list grads =
        torch::autograd::grad({out}, wrt, {grad_out[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);
    // One entry per forward argument: x, each param, the four tables, then
    // the three non-tensor arguments.
    variable_list result;
    std::size_t next = 0;
    result.push_back(input.requires_grad() ? grads[next++] : at::Tensor());
    for (std::size_t i = 0; i < n; ++i) result.push_back(grads[next++]);
    result.resize(result.size() + 4 + 3);
    return result;
  }
};

}  // namespace

at::Tensor checkpointed_layer(DecoderLayerImpl& layer, const at::Tensor& x, const RotaryTables& rope,
                              const at::Tensor& mask, const at::Tensor& positions, std::size_t index,
                              const LoraAdapters* lora) {
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : layer.parameters())
    if (p.requires_grad()) params.push_back(p);
  if (lora)
    for (const at::Tensor& p : lora->layer_parameters(index)) params.push_back(p);
  return LayerRecompute::apply(x, at::TensorList(params), rope.cos, rope.sin, mask, positions, &layer,
                               static_cast<std::int64_t>(index), lora);
}

}  // namespace genius::llama
