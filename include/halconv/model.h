// Keras model files: the conv layers of a Keras 3 .keras archive or a legacy full-model .h5 file
// (Keras 2 / tf.keras, or Keras 3's model.save("m.h5")), each ready to run with its weights.
//
// Thread-safety: a loaded KerasModel is immutable; every method may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "halconv/layer.h"

namespace halconv {

// A Conv2D, DepthwiseConv2D or SeparableConv2D of a model, nested models' layers included.
struct ModelLayer {
  // The layer's name, after its enclosing models' names for a nested one: "conv1", "block/sep".
  std::string name;
  std::string class_name;
  // {"class_name": ..., "config": {...}}, as layer_from_config() reads it.
  std::string config;
  // The input shape Keras recorded (build_config, or the inbound tensor's shape), batch -1 when
  // unset; empty when the file records none (Keras 2 files record one for few layers).
  Shape input_shape;

  // input_shape with an unset batch set to `batch`; empty when it is empty or another axis is
  // unset.
  Shape input_shape_with_batch(int64_t batch) const;
};

class KerasModel {
 public:
  // Reads the file (a zip archive is a .keras file, an HDF5 file a legacy .h5 one, whatever its
  // name) and checks every conv layer's config and weights. Throws Error naming the file, the
  // layer and the value for anything it cannot read or halconv does not run.
  static KerasModel load(const std::string& path);
  // The same from a file's bytes; `file` names it in errors.
  static KerasModel from_bytes(const std::string& bytes, const std::string& file);

  KerasModel(KerasModel&&) noexcept;
  KerasModel& operator=(KerasModel&&) noexcept;
  ~KerasModel();

  const std::string& file() const;
  // "keras" or "h5".
  const std::string& format() const;
  // The Keras version that wrote the file, as it says ("" when it does not).
  const std::string& keras_version() const;
  // The conv layers in the model's order.
  const std::vector<ModelLayer>& layers() const;
  // A layer by its name (ModelLayer::name), or by its last part when that is unique in the model.
  // Throws Error listing the names when there is none.
  const ModelLayer& find(const std::string& name) const;
  // A new layer of find(name)'s config with the file's weights set; a file Keras 2 wrote gets
  // Keras 2's hard_sigmoid.
  std::unique_ptr<Layer> layer(const std::string& name) const;

  // Variant records (the form of generators/manifest.json) specialized to this model, for
  // halconv_add_keras_model: for each CPU convolution its layers run at their recorded input
  // shapes (batch 1), the record of the built-in variant selection picks now, with that
  // variant's run-time kernel, stride and dilation fixed to the layer's where they are square,
  // and "specializes" naming the built-in variant (whose tuned schedule entry it starts from).
  // One JSON object per distinct record, its "reason" naming its layers, in the selection order
  // of the variants they specialize; layers without a recorded input shape are left out.
  std::vector<std::string> specialized_records() const;

 private:
  struct Impl;
  explicit KerasModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halconv
