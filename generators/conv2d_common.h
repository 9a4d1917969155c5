// Parts every Conv2D generator family shares: the Keras activations and the Winograd
// F(2x2, 3x3) transforms. Semantics follow Keras 3 Conv2D.
#pragma once

#include "Halide.h"
#include "halconv/activation.h"
#include "halconv/groups_mode.h"

namespace halconv::generators {

using namespace Halide;
using halconv::Activation;

enum class Layout { NHWC, NCHW };
using halconv::GroupsMode;
enum class Algorithm { Direct, Winograd };

// Winograd F(2x2, 3x3) (Lavin and Gray, 2016): a 4x4 input tile, transformed by B^T d B and
// multiplied element-wise with the transformed weights G g G^T (the runtime packs those, see
// runtime/winograd.cpp), gives a 2x2 output tile by A^T m A: 16 multiplies instead of 36. The
// coefficients are 0 and +-1, so it rounds like the direct form.
constexpr float kWinogradBt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
constexpr float kWinogradAt[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

inline Expr sigmoid(const Expr& v) {
  // Split on the sign so that exp never overflows.
  Expr e = exp(-abs(v));
  return select(v >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e));
}

inline Expr softplus(const Expr& v) { return max(v, 0.0f) + log(1.0f + exp(-abs(v))); }

inline Expr hard_sigmoid(const Expr& v) { return clamp(v / 6.0f + 0.5f, 0.0f, 1.0f); }

// Keras 3's element-wise activations (keras/src/backend/numpy/nn.py is the reference reading).
inline Expr activate_finite(Activation a, const Expr& x);

// NaN in, NaN out, as NumPy and TensorFlow give it. Halide compiles float math with fast-math
// flags (no NaNs), so max(NaN, 0), exp(NaN) and since Halide 21 even is_nan may fold to numbers;
// the test reads the bits instead, which no float flag touches.
// The shrink functions are the exception: Keras' np.where chains map NaN to 0.
inline Expr is_nan_bits(const Expr& x) {
  return (reinterpret<uint32_t>(x) & Expr(0x7fffffffu)) > Expr(0x7f800000u);
}

inline Expr activate(Activation a, const Expr& x) {
  if (a == Activation::soft_shrink || a == Activation::hard_shrink) {
    return activate_finite(a, x);
  }
  return select(is_nan_bits(x), x, activate_finite(a, x));
}

inline Expr activate_finite(Activation a, const Expr& x) {
  switch (a) {
    case Activation::linear:
      return x;
    case Activation::relu:
      return max(x, 0.0f);
    case Activation::relu6:
      return clamp(x, 0.0f, 6.0f);
    case Activation::leaky_relu:
      return select(x >= 0.0f, x, 0.2f * x);
    case Activation::elu:
      return select(x >= 0.0f, x, exp(x) - 1.0f);
    case Activation::celu:
      return max(x, 0.0f) + (exp(min(x, 0.0f)) - 1.0f);
    case Activation::selu: {
      const float alpha = 1.6732632423543772f, scale = 1.0507009873554805f;
      return scale * select(x > 0.0f, x, alpha * (exp(x) - 1.0f));
    }
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::tanh:
      return tanh(x);
    case Activation::softplus:
      return softplus(x);
    case Activation::softsign:
      return x / (1.0f + abs(x));
    case Activation::silu:
      return x * sigmoid(x);
    case Activation::hard_silu:
      return x * hard_sigmoid(x);
    case Activation::gelu:
      return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
    case Activation::exponential:
      return exp(x);
    case Activation::mish:
      return x * tanh(softplus(x));
    case Activation::log_sigmoid:
      return -softplus(-x);
    case Activation::hard_tanh:
      return clamp(x, -1.0f, 1.0f);
    case Activation::tanh_shrink:
      return x - tanh(x);
    case Activation::soft_shrink:
      return select(x > 0.5f, x - 0.5f, x < -0.5f, x + 0.5f, 0.0f);
    case Activation::hard_shrink:
      return select(abs(x) > 0.5f, x, 0.0f);
    case Activation::squareplus:
      return (x + sqrt(x * x + 4.0f)) * 0.5f;
    case Activation::sparse_plus:
      return select(x <= -1.0f, 0.0f, x < 1.0f, 0.25f * (x + 1.0f) * (x + 1.0f), x);
    case Activation::sparse_sigmoid:
      return select(x <= -1.0f, 0.0f, x >= 1.0f, 1.0f, 0.5f * (x + 1.0f));
    case Activation::hard_sigmoid:
      return hard_sigmoid(x);
    case Activation::hard_sigmoid_keras2:
      return clamp(0.2f * x + 0.5f, 0.0f, 1.0f);
    default:
      // Axis activations run as a separate stage; the conv stage is linear for them.
      return x;
  }
}

}  // namespace halconv::generators
