// A consumer that generated variants for its own Keras model with halconv_add_keras_model: every
// conv layer of net.keras runs on one of them (explain says so), and each agrees with the
// built-in variant it specializes on the same input.
#include <halconv/halconv.h>

#include <cmath>
#include <cstdio>

int main() {
  const halconv::KerasModel model = halconv::KerasModel::load(MODEL_FILE);
  int failures = 0;
  // How the first layer runs, as `halconv explain --model net.keras --layer stem` prints it.
  std::printf("%s\n", model.layer(model.layers()[0].name)
                          ->explain(model.layers()[0].input_shape_with_batch(1))
                          .c_str());
  for (const halconv::ModelLayer& info : model.layers()) {
    const halconv::Shape shape = info.input_shape_with_batch(1);
    halconv::Tensor input(shape);
    for (size_t i = 0; i < input.data.size(); i++) input.data[i] = std::sin(0.37f * float(i));
    std::unique_ptr<halconv::Layer> layer = model.layer(info.name);
    const std::vector<halconv::Decision> decisions = layer->decisions(shape);
    const halconv::Tensor output = (*layer)(input);
    std::printf("%-14s %-16s", info.name.c_str(), info.class_name.c_str());
    for (size_t step = 0; step < decisions.size(); step++) {
      const halconv::Decision& d = decisions[step];
      const bool specialized = d.variant.rfind("net_", 0) == 0;
      failures += !specialized;
      std::printf(" %s%s", d.variant.c_str(), specialized ? "" : " (not specialized!)");
    }
    // The same layer on halconv's own variants only: each step forced to the built-in fallback.
    std::unique_ptr<halconv::Layer> builtin = model.layer(info.name);
    halconv::Options options;
    options.variant = "conv2d_nhwc_kr_sr_dr_grouped_cpu";
    builtin->set_options(options);
    for (const halconv::Decision& d : builtin->decisions(shape))
      failures += d.variant != options.variant;
    const halconv::Tensor expected = (*builtin)(input);
    double worst = 0, scale = 1e-30;
    for (size_t i = 0; i < expected.data.size(); i++) {
      worst = std::max(worst, double(std::fabs(output.data[i] - expected.data[i])));
      scale = std::max(scale, double(std::fabs(expected.data[i])));
    }
    failures += !(worst / scale <= 1e-4);
    std::printf("  relative difference %.1e\n", worst / scale);
  }
  std::printf("keras_model: %zu layers, %d failures\n", model.layers().size(), failures);
  return failures == 0 ? 0 : 1;
}
