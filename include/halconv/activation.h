// Activation identifiers shared by the generators (which fuse them) and the runtime (which parses
// Keras names). Header-only and dependency-free so that both sides agree on one numbering.
#pragma once

namespace halconv {

enum class Activation : int {
  // Element-wise: fused into every generated variant's output stage.
  linear = 0,
  relu,
  relu6,
  leaky_relu,  // negative_slope 0.2
  elu,         // alpha 1
  celu,        // alpha 1
  selu,
  sigmoid,
  tanh,
  softplus,
  softsign,
  silu,
  hard_silu,
  gelu,  // exact erf form
  exponential,
  mish,
  log_sigmoid,
  hard_tanh,
  tanh_shrink,
  soft_shrink,  // threshold 0.5
  hard_shrink,  // threshold 0.5
  squareplus,   // b 4
  sparse_plus,
  sparse_sigmoid,
  hard_sigmoid,         // Keras 3: relu6(x + 3) / 6
  hard_sigmoid_keras2,  // Keras 2: clip(0.2 x + 0.5, 0, 1)
  // Along the last Keras axis: a second generated stage (they need the whole axis).
  softmax,
  log_softmax,
  sparsemax,
  glu,  // halves the last axis
};

constexpr int kActivationCount = static_cast<int>(Activation::glu) + 1;

constexpr bool is_axis_activation(Activation a) {
  return static_cast<int>(a) >= static_cast<int>(Activation::softmax);
}

}  // namespace halconv
