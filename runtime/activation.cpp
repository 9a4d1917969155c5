// Keras' activation names and the identifiers the generated code switches on.
#include <utility>

#include "halconv/config.h"

namespace halconv {
namespace {

struct NamedActivation {
  const char* name;
  Activation id;
};

// Keras 3 names, including its aliases (swish, hard_swish).
constexpr NamedActivation kNames[] = {
    {"linear", Activation::linear},
    {"relu", Activation::relu},
    {"relu6", Activation::relu6},
    {"leaky_relu", Activation::leaky_relu},
    {"elu", Activation::elu},
    {"celu", Activation::celu},
    {"selu", Activation::selu},
    {"sigmoid", Activation::sigmoid},
    {"tanh", Activation::tanh},
    {"softplus", Activation::softplus},
    {"softsign", Activation::softsign},
    {"silu", Activation::silu},
    {"swish", Activation::silu},
    {"hard_silu", Activation::hard_silu},
    {"hard_swish", Activation::hard_silu},
    {"gelu", Activation::gelu},
    {"exponential", Activation::exponential},
    {"mish", Activation::mish},
    {"log_sigmoid", Activation::log_sigmoid},
    {"hard_tanh", Activation::hard_tanh},
    {"tanh_shrink", Activation::tanh_shrink},
    {"soft_shrink", Activation::soft_shrink},
    {"hard_shrink", Activation::hard_shrink},
    {"squareplus", Activation::squareplus},
    {"sparse_plus", Activation::sparse_plus},
    {"sparse_sigmoid", Activation::sparse_sigmoid},
    {"hard_sigmoid", Activation::hard_sigmoid},
    {"softmax", Activation::softmax},
    {"log_softmax", Activation::log_softmax},
    {"sparsemax", Activation::sparsemax},
    {"glu", Activation::glu},
};

}  // namespace

std::vector<std::string> activation_names() {
  std::vector<std::string> names;
  for (const auto& n : kNames) names.emplace_back(n.name);
  return names;
}

Activation parse_activation(const std::string& name, bool keras2_hard_sigmoid) {
  for (const auto& n : kNames) {
    if (name == n.name) {
      if (n.id == Activation::hard_sigmoid && keras2_hard_sigmoid) {
        return Activation::hard_sigmoid_keras2;
      }
      return n.id;
    }
  }
  std::string valid;
  for (const auto& n : kNames) valid += (valid.empty() ? "" : ", ") + std::string(n.name);
  throw Error(ErrorKind::invalid_config,
              "unknown activation '" + name + "'; valid names are: " + valid);
}

std::string activation_name(Activation activation) {
  if (activation == Activation::hard_sigmoid_keras2) return "hard_sigmoid";
  for (const auto& n : kNames) {
    if (n.id == activation) return n.name;
  }
  return "unknown";
}

}  // namespace halconv
