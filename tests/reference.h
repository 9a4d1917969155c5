// A float64 reference Conv2D, written from Keras' definitions and nothing else of ours but Problem.
#pragma once

#include <vector>

#include "halconv/config.h"

namespace halconv::testing {

// One output element of the convolution with bias, before the activation; (n, oy, ox, co).
double reference_conv_point(const Problem& p, const std::vector<float>& input,
                            const std::vector<float>& kernel, const std::vector<float>& bias,
                            int64_t n, int64_t oy, int64_t ox, int64_t co);

std::vector<double> reference_conv2d(const Problem& p, const std::vector<float>& input,
                                     const std::vector<float>& kernel,
                                     const std::vector<float>& bias);

// max|out - expected| / max|expected| (the conformance metric); 0 when both are all zero.
double relative_error(const std::vector<float>& out, const std::vector<double>& expected);

// Uniform in [-1, -0.05] U [0.05, 1]: random, never zero.
std::vector<float> random_values(size_t count, unsigned seed);

}  // namespace halconv::testing
