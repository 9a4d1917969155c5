// Keras' initializers with its fan computation and VarianceScaling rules. The random stream is
// std::mt19937_64, seedable; it does not reproduce Keras' own random numbers.
#include "initializers.h"

#include <cmath>
#include <random>

namespace halconv::detail {
namespace {

constexpr uint64_t kDefaultSeed = 1337;
// Keras' truncated normal draws within two standard deviations; dividing the target stddev by the
// stddev of that truncated unit normal keeps the requested variance (Keras' VarianceScaling).
constexpr double kTruncatedStddev = 0.87962566103423978;

struct Fans {
  double in, out;
};

Fans compute_fans(const Shape& shape) {
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < shape.size(); i++) receptive *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

double truncated_normal(std::mt19937_64& rng, double mean, double stddev) {
  std::normal_distribution<double> normal(0.0, 1.0);
  double z;
  do {
    z = normal(rng);
  } while (std::abs(z) > 2.0);
  return mean + stddev * z;
}

}  // namespace

std::vector<float> initialize(const Initializer& init, const Shape& shape) {
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  std::vector<float> values(count);
  std::mt19937_64 rng(init.seed.value_or(kDefaultSeed));
  const Fans fans = compute_fans(shape);
  const std::string& name = init.name;

  auto fill = [&](auto draw) {
    for (float& v : values) v = static_cast<float>(draw());
  };
  auto variance_scaling = [&](double scale, double n, bool normal) {
    if (normal) {
      const double stddev = std::sqrt(scale / n) / kTruncatedStddev;
      fill([&] { return truncated_normal(rng, 0.0, stddev); });
    } else {
      const double limit = std::sqrt(3.0 * scale / n);
      std::uniform_real_distribution<double> uniform(-limit, limit);
      fill([&] { return uniform(rng); });
    }
  };
  const double fan_avg = (fans.in + fans.out) / 2.0;

  if (name == "glorot_uniform") {
    variance_scaling(1.0, fan_avg, false);
  } else if (name == "glorot_normal") {
    variance_scaling(1.0, fan_avg, true);
  } else if (name == "he_uniform") {
    variance_scaling(2.0, fans.in, false);
  } else if (name == "he_normal") {
    variance_scaling(2.0, fans.in, true);
  } else if (name == "lecun_uniform") {
    variance_scaling(1.0, fans.in, false);
  } else if (name == "lecun_normal") {
    variance_scaling(1.0, fans.in, true);
  } else if (name == "zeros") {
    fill([] { return 0.0; });
  } else if (name == "ones") {
    fill([] { return 1.0; });
  } else if (name == "constant") {
    fill([&] { return init.value; });
  } else if (name == "random_normal") {
    std::normal_distribution<double> normal(init.mean, init.stddev);
    fill([&] { return normal(rng); });
  } else if (name == "random_uniform") {
    std::uniform_real_distribution<double> uniform(init.minval, init.maxval);
    fill([&] { return uniform(rng); });
  } else if (name == "truncated_normal") {
    fill([&] { return truncated_normal(rng, init.mean, init.stddev); });
  } else {
    throw Error(ErrorKind::invalid_config,
                "unknown initializer '" + name +
                    "'; valid names are: glorot_uniform, glorot_normal, he_normal, he_uniform, "
                    "lecun_normal, lecun_uniform, zeros, ones, constant, random_normal, "
                    "random_uniform, truncated_normal");
  }
  return values;
}

}  // namespace halconv::detail
