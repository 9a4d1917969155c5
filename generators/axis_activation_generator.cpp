// Keras' activations that act along the last axis (softmax, log_softmax, sparsemax, glu), as a
// second generated stage after the convolution: each needs the whole axis before it can write.
// Dimension 0 is Keras' last axis in both layouts (channels for NHWC, width for NCHW).
#include "Halide.h"
#include "halconv/activation.h"

namespace {

using namespace Halide;
using halconv::Activation;

class AxisActivation : public Generator<AxisActivation> {
 public:
  Input<Buffer<float, 4>> input{"input"};     // the convolution's output, axis innermost
  Input<int32_t> op{"op"};                    // halconv::Activation: softmax .. glu
  Output<Buffer<float, 4>> output{"output"};  // same shape; glu halves dimension 0

  void generate() {
    const Expr len = input.dim(0).extent();
    RDom r(0, len, "r");
    const Expr z = input(i, a, b, d);
    const Expr zr = input(r, a, b, d);

    row_max(a, b, d) = maximum(zr);
    exp_sum(a, b, d) = sum(exp(zr - row_max(a, b, d)));
    const Expr softmax = exp(z - row_max(a, b, d)) / exp_sum(a, b, d);
    const Expr log_softmax = z - row_max(a, b, d) - log(exp_sum(a, b, d));

    // Keras sorts the axis and keeps the prefix where r*z_(r) - cumsum_r + 1 > 0; the test and
    // tau are invariant within a run of ties, so counts over the axis replace the sort:
    // ge = #{z_j >= z_i} (the last sorted position of z_i's ties), gt = #{z_j > z_i}.
    greater_eq(i, a, b, d) = sum(select(zr >= z, 1, 0));
    greater(i, a, b, d) = sum(select(zr > z, 1, 0));
    sum_greater_eq(i, a, b, d) = sum(select(zr >= z, zr, 0.0f));
    in_support(i, a, b, d) =
        cast<float>(greater_eq(i, a, b, d)) * z - sum_greater_eq(i, a, b, d) + 1.0f > 0.0f;
    support_size(a, b, d) = sum(select(in_support(r, a, b, d), 1, 0));
    // Keras takes tau = (sum of the cumsums over the support - 1) / k. A run of ties at sorted
    // positions gt+1..ge contributes z * (k + 1 - mean position) per element.
    const Expr k = cast<float>(support_size(a, b, d));
    const Expr mean_position =
        (cast<float>(greater(r, a, b, d)) + 1.0f + cast<float>(greater_eq(r, a, b, d))) * 0.5f;
    cumsum_total(a, b, d) =
        sum(select(in_support(r, a, b, d), input(r, a, b, d) * (k + 1.0f - mean_position), 0.0f));
    const Expr tau = (cumsum_total(a, b, d) - 1.0f) / k;
    const Expr sparsemax = max(z - tau, 0.0f);

    const Expr gate = input(i + len / 2, a, b, d);
    const Expr glu = z * (1.0f / (1.0f + exp(-gate)));

    output(i, a, b, d) = select(op == static_cast<int>(Activation::softmax), softmax,
                                op == static_cast<int>(Activation::log_softmax), log_softmax,
                                op == static_cast<int>(Activation::sparsemax), sparsemax, glu);
    for (int dim = 0; dim < 4; dim++) {
      input.dim(dim).set_min(0);
      output.dim(dim).set_min(0);
    }
  }

  void schedule() {
    if (using_autoscheduler()) {
      return;
    }
    const int vec = natural_vector_size<float>();
    // One specialization per op; the row statistics are computed once per row, in parallel rows.
    for (Activation a :
         {Activation::softmax, Activation::log_softmax, Activation::sparsemax, Activation::glu}) {
      output.specialize(op == static_cast<int>(a))
          .fuse(b, d, bd)
          .parallel(bd)
          .vectorize(i, vec, TailStrategy::GuardWithIf);
    }
    output.specialize_fail("axis activation id out of range");
    for (Func f : {row_max, exp_sum, support_size, cumsum_total}) {
      f.compute_at(output, a);
    }
    for (Func f : {greater_eq, greater, sum_greater_eq}) {
      f.compute_at(output, a).vectorize(i, vec, TailStrategy::GuardWithIf);
    }
  }

 private:
  Var i{"i"}, a{"a"}, b{"b"}, d{"d"}, bd{"bd"};
  Func row_max{"row_max"}, exp_sum{"exp_sum"}, greater_eq{"greater_eq"}, greater{"greater"},
      sum_greater_eq{"sum_greater_eq"}, in_support{"in_support"}, support_size{"support_size"},
      cumsum_total{"cumsum_total"};
};

}  // namespace

HALIDE_REGISTER_GENERATOR(AxisActivation, axis_activation)
