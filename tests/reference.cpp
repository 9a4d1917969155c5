#include "reference.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace halconv::testing {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus(double x) { return std::log1p(std::exp(-std::abs(x))) + std::max(x, 0.0); }

double elementwise(Activation a, double x) {
  switch (a) {
    case Activation::linear:
      return x;
    case Activation::relu:
      return x > 0 ? x : 0;
    case Activation::relu6:
      return std::min(std::max(x, 0.0), 6.0);
    case Activation::leaky_relu:
      return x >= 0 ? x : 0.2 * x;
    case Activation::elu:
      return x >= 0 ? x : std::expm1(x);
    case Activation::celu:
      return std::max(x, 0.0) + std::expm1(std::min(x, 0.0));
    case Activation::selu:
      return 1.0507009873554804934 * (x > 0 ? x : 1.6732632423543772848 * std::expm1(x));
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::tanh:
      return std::tanh(x);
    case Activation::softplus:
      return softplus(x);
    case Activation::softsign:
      return x / (1 + std::abs(x));
    case Activation::silu:
      return x * sigmoid(x);
    case Activation::hard_silu:
      return x * std::min(std::max(x + 3, 0.0), 6.0) / 6;
    case Activation::gelu:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::exponential:
      return std::exp(x);
    case Activation::mish:
      return x * std::tanh(softplus(x));
    case Activation::log_sigmoid:
      return -softplus(-x);
    case Activation::hard_tanh:
      return std::min(std::max(x, -1.0), 1.0);
    case Activation::tanh_shrink:
      return x - std::tanh(x);
    case Activation::soft_shrink:
      return x > 0.5 ? x - 0.5 : (x < -0.5 ? x + 0.5 : 0);
    case Activation::hard_shrink:
      return std::abs(x) > 0.5 ? x : 0;
    case Activation::squareplus:
      return (x + std::sqrt(x * x + 4)) / 2;
    case Activation::sparse_plus:
      return x <= -1 ? 0 : (x < 1 ? (x + 1) * (x + 1) / 4 : x);
    case Activation::sparse_sigmoid:
      return x <= -1 ? 0 : (x >= 1 ? 1 : (x + 1) / 2);
    case Activation::hard_sigmoid:
      return std::min(std::max(x + 3, 0.0), 6.0) / 6;
    case Activation::hard_sigmoid_keras2:
      return std::min(std::max(0.2 * x + 0.5, 0.0), 1.0);
    default:
      return x;
  }
}

// Keras' axis activations on one row (the last axis), written as Keras writes them (with a sort).
std::vector<double> along_axis(Activation a, const std::vector<double>& z) {
  const size_t n = z.size();
  std::vector<double> out;
  if (a == Activation::glu) {
    for (size_t i = 0; i < n / 2; i++) out.push_back(z[i] * sigmoid(z[i + n / 2]));
    return out;
  }
  const double m = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double v : z) sum += std::exp(v - m);
  if (a == Activation::softmax) {
    for (double v : z) out.push_back(std::exp(v - m) / sum);
  } else if (a == Activation::log_softmax) {
    for (double v : z) out.push_back(v - m - std::log(sum));
  } else {  // sparsemax, keras/src/backend/tensorflow/nn.py
    std::vector<double> sorted = z;
    std::sort(sorted.begin(), sorted.end(), std::greater<double>());
    double cumsum = 0, support_cumsums = 0;
    int k = 0;
    for (size_t r = 0; r < n; r++) {
      cumsum += sorted[r];
      if (sorted[r] - (cumsum - 1) / double(r + 1) > 0) {
        k++;
        support_cumsums += cumsum;
      }
    }
    const double tau = (support_cumsums - 1) / k;
    for (double v : z) out.push_back(std::max(v - tau, 0.0));
  }
  return out;
}

}  // namespace

double reference_conv_point(const Problem& p, const std::vector<float>& input,
                            const std::vector<float>& kernel, const std::vector<float>& bias,
                            int64_t n, int64_t oy, int64_t ox, int64_t co) {
  const bool last = p.data_format == DataFormat::channels_last;
  const int64_t cin_g = p.in_c / p.groups, cout_g = p.filters / p.groups;
  const int64_t g = co / cout_g;
  double acc = p.use_bias ? bias[co] : 0.0;
  for (int64_t ky = 0; ky < p.kernel_h; ky++) {
    for (int64_t kx = 0; kx < p.kernel_w; kx++) {
      const int64_t iy = oy * p.stride_h + ky * p.dilation_h - p.pad_top;
      const int64_t ix = ox * p.stride_w + kx * p.dilation_w - p.pad_left;
      if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;  // zero padding
      for (int64_t ci = 0; ci < cin_g; ci++) {
        const int64_t c = g * cin_g + ci;
        const float x = last ? input[((n * p.in_h + iy) * p.in_w + ix) * p.in_c + c]
                             : input[((n * p.in_c + c) * p.in_h + iy) * p.in_w + ix];
        acc += double(x) * kernel[((ky * p.kernel_w + kx) * cin_g + ci) * p.filters + co];
      }
    }
  }
  return acc;
}

std::vector<double> reference_conv2d(const Problem& p, const std::vector<float>& input,
                                     const std::vector<float>& kernel,
                                     const std::vector<float>& bias) {
  const bool last = p.data_format == DataFormat::channels_last;
  std::vector<double> conv(p.batch * p.out_h * p.out_w * p.filters);
  for (int64_t n = 0; n < p.batch; n++)
    for (int64_t oy = 0; oy < p.out_h; oy++)
      for (int64_t ox = 0; ox < p.out_w; ox++)
        for (int64_t co = 0; co < p.filters; co++) {
          conv[((n * p.out_h + oy) * p.out_w + ox) * p.filters + co] =
              reference_conv_point(p, input, kernel, bias, n, oy, ox, co);
        }
  // Into the user's layout, with the activation; axis activations act on the last axis.
  const Shape conv_shape = p.conv_shape();
  std::vector<double> laid_out(conv.size());
  for (int64_t n = 0; n < p.batch; n++)
    for (int64_t y = 0; y < p.out_h; y++)
      for (int64_t x = 0; x < p.out_w; x++)
        for (int64_t c = 0; c < p.filters; c++) {
          const double v = conv[((n * p.out_h + y) * p.out_w + x) * p.filters + c];
          const int64_t at = last ? ((n * p.out_h + y) * p.out_w + x) * p.filters + c
                                  : ((n * p.filters + c) * p.out_h + y) * p.out_w + x;
          laid_out[at] = elementwise(p.activation, v);
        }
  if (!is_axis_activation(p.activation)) return laid_out;
  const size_t axis = static_cast<size_t>(conv_shape[3]);
  std::vector<double> out;
  for (size_t row = 0; row < laid_out.size() / axis; row++) {
    std::vector<double> z(laid_out.begin() + row * axis, laid_out.begin() + (row + 1) * axis);
    for (double v : along_axis(p.activation, z)) out.push_back(v);
  }
  return out;
}

double relative_error(const std::vector<float>& out, const std::vector<double>& expected) {
  if (out.size() != expected.size()) return INFINITY;
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < out.size(); i++) {
    const double diff = std::abs(double(out[i]) - expected[i]);
    if (!(diff <= max_diff)) max_diff = diff;  // NaN propagates as a failure
    max_ref = std::max(max_ref, std::abs(expected[i]));
  }
  if (max_ref == 0) return max_diff;
  return max_diff / max_ref;
}

std::vector<float> random_values(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> magnitude(0.05f, 1.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> v(count);
  for (float& x : v) x = negative(rng) ? -magnitude(rng) : magnitude(rng);
  return v;
}

}  // namespace halconv::testing
