// KerasModel: walks a model's config (Sequential and Functional, nested ones too) for its conv
// layers and reads their weights where each file format keeps them:
// - .keras (Keras 3): config.json and model.weights.h5 in a zip; a layer's weights are
//   vars/0, vars/1, ... of a group named by its place in its model's layer list, the snake_case
//   class name numbered per class ("layers/conv2d_1", nested: "layers/sequential/layers/conv2d").
// - legacy .h5: the config in the root's model_config attribute; the weights of each top-level
//   layer (a nested model counts as one) under model_weights/<layer>, listed in its weight_names
//   attribute as "<layer>/<weight>" paths whose second-to-last part names the owning layer.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "halconv/error.h"
#include "halconv/io.h"
#include "halconv/model.h"
#include "model_files.h"
#include "registry.h"

namespace halconv {
namespace {

using json = nlohmann::json;

bool is_conv_class(const std::string& cls) {
  return cls == "Conv2D" || cls == "DepthwiseConv2D" || cls == "SeparableConv2D";
}

// Keras' naming.to_snake_case, which names a layer's weights group in a .keras archive.
std::string snake_case(const std::string& name) {
  std::string s = std::regex_replace(name, std::regex(R"(\W+)"), "");
  s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A conv layer found by the walk, with where its weights are.
struct Found {
  ModelLayer info;
  std::string bare_name;
  json config;             // the layer's "config" object
  std::string keras_path;  // .keras: its group, e.g. "layers/sequential/layers/conv2d"
  std::string top_layer;   // legacy .h5: the top-level layer whose group holds its weights
};

// [d0, d1, ...] with null for an unset dimension; an empty Shape for anything else.
Shape shape_of(const json& value) {
  Shape shape;
  if (!value.is_array() || value.empty()) return {};
  for (const json& d : value) {
    if (d.is_null()) {
      shape.push_back(-1);
    } else if (d.is_number_integer() && d.get<int64_t>() >= 0) {
      shape.push_back(d.get<int64_t>());
    } else {
      return {};
    }
  }
  return shape;
}

// An InputLayer's shape: batch_shape (Keras 3) or batch_input_shape (Keras 2).
Shape input_layer_shape(const json& config) {
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (config.contains(key)) return shape_of(config[key]);
  }
  return {};
}

// The input shape Keras recorded: build_config (Keras 3), else the first inbound tensor's shape
// (Keras 3 Functional), else batch_input_shape (Keras 2, a model's first layer), else the shape
// of the InputLayer it reads (Keras 2 Functional: [[["input_1", 0, 0, {}]]]; in a Sequential,
// the InputLayer just before it).
Shape recorded_input_shape(const json& entry, const json& config,
                           const std::map<std::string, Shape>& inputs, const Shape& previous) {
  if (entry.contains("build_config") && entry["build_config"].is_object() &&
      entry["build_config"].contains("input_shape")) {
    return shape_of(entry["build_config"]["input_shape"]);
  }
  const json* node = &entry;
  for (const char* key : {"inbound_nodes", "0", "args", "0", "config", "shape"}) {
    const std::string k = key;
    if (node->is_array() && k == "0" && !node->empty()) {
      node = &(*node)[0];
    } else if (node->is_object() && node->contains(k)) {
      node = &(*node)[k];
    } else {
      node = nullptr;
      break;
    }
  }
  if (node) return shape_of(*node);
  if (config.contains("batch_input_shape")) return shape_of(config["batch_input_shape"]);
  if (entry.contains("inbound_nodes") && entry["inbound_nodes"].is_array() &&
      !entry["inbound_nodes"].empty()) {
    const json& first = entry["inbound_nodes"][0];
    if (first.is_array() && !first.empty() && first[0].is_array() && !first[0].empty() &&
        first[0][0].is_string()) {
      const auto source = inputs.find(first[0][0].get<std::string>());
      return source == inputs.end() ? Shape{} : source->second;
    }
    return {};
  }
  return previous;
}

bool is_model(const json& entry) {
  if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string())
    return false;
  const std::string cls = entry["class_name"].get<std::string>();
  return (cls == "Functional" || cls == "Sequential" || cls == "Model") &&
         entry.contains("config") && entry["config"].is_object() &&
         entry["config"].contains("layers") && entry["config"]["layers"].is_array();
}

// Collects the conv layers of a model config, depth first in the model's order.
void walk(const json& model, const std::string& keras_prefix, const std::string& name_prefix,
          const std::string& top_layer, const std::string& file, std::vector<Found>& out) {
  std::map<std::string, int> used;      // Keras' per-class counter of one layer list
  std::map<std::string, Shape> inputs;  // this model's InputLayers by name
  Shape previous;                       // a Sequential's InputLayer's shape, for the next layer
  for (const json& entry : model["config"]["layers"]) {
    if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string() ||
        !entry.contains("config") || !entry["config"].is_object()) {
      throw Error(
          ErrorKind::invalid_config,
          file + ": a layer of model config is not {\"class_name\": ..., \"config\": {...}}: " +
              entry.dump().substr(0, 200));
    }
    const std::string cls = entry["class_name"].get<std::string>();
    const json& config = entry["config"];
    std::string name;
    if (config.contains("name") && config["name"].is_string()) {
      name = config["name"].get<std::string>();
    } else if (entry.contains("name") && entry["name"].is_string()) {
      name = entry["name"].get<std::string>();
    }
    std::string group = snake_case(cls);
    const auto [it, first] = used.emplace(group, 0);
    if (!first) group += "_" + std::to_string(++it->second);
    const std::string keras_path = keras_prefix + "layers/" + group;
    const Shape shown_previous = previous;
    previous.clear();
    if (cls == "InputLayer") {
      previous = input_layer_shape(config);
      inputs[name] = previous;
    } else if (is_model(entry)) {
      walk(entry, keras_path + "/", name_prefix + name + "/", top_layer.empty() ? name : top_layer,
           file, out);
    } else if (is_conv_class(cls)) {
      if (name.empty()) {
        throw Error(ErrorKind::invalid_config,
                    file + ": a " + cls + " layer of the model config has no name");
      }
      Found f;
      f.info.name = name_prefix + name;
      f.info.class_name = cls;
      f.info.config = json{{"class_name", cls}, {"config", config}}.dump();
      f.info.input_shape = recorded_input_shape(entry, config, inputs, shown_previous);
      f.bare_name = name;
      f.config = config;
      f.keras_path = keras_path;
      f.top_layer = top_layer.empty() ? name : top_layer;
      out.push_back(std::move(f));
    }
  }
}

json parse_json(const std::string& text, const std::string& what) {
  // Nested models nest deeper than a layer config; this still bounds the parser's stack.
  constexpr int kMaxDepth = 512;
  const json::parser_callback_t limit = [&](int depth, json::parse_event_t, json&) {
    if (depth > kMaxDepth) {
      throw Error(ErrorKind::invalid_config,
                  what + " nests deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    return true;
  };
  try {
    return json::parse(text, limit);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::invalid_config, what + " is not valid JSON: " + e.what());
  }
}

// The float32 dtype policy is all halconv computes; mixed precision would round differently.
void require_float32(const Found& f) {
  if (!f.config.contains("dtype") || f.config["dtype"].is_null()) return;
  const json& d = f.config["dtype"];
  std::string policy = d.is_string() ? d.get<std::string>() : "";
  if (d.is_object() && d.contains("config") && d["config"].is_object() &&
      d["config"].contains("name") && d["config"]["name"].is_string()) {
    policy = d["config"]["name"].get<std::string>();
  }
  if (policy != "float32") {
    throw Error(ErrorKind::unsupported,
                "dtype " + (policy.empty() ? d.dump().substr(0, 100) : "'" + policy + "'") +
                    " is not float32, the only dtype halconv computes");
  }
}

}  // namespace

struct KerasModel::Impl {
  std::string file, format, keras_version;
  bool keras2 = false;
  std::vector<ModelLayer> layers;
  std::vector<std::vector<Tensor>> weights;  // per layer, in weight_names() order
};

Shape ModelLayer::input_shape_with_batch(int64_t batch) const {
  Shape shape = input_shape;
  if (!shape.empty() && shape[0] < 0) shape[0] = batch;
  const bool unset = std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; });
  return unset ? Shape{} : shape;
}

KerasModel::KerasModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KerasModel::KerasModel(KerasModel&&) noexcept = default;
KerasModel& KerasModel::operator=(KerasModel&&) noexcept = default;
KerasModel::~KerasModel() = default;

KerasModel KerasModel::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::invalid_input, path + ": cannot open it: " + std::strerror(errno));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::invalid_input, path + ": cannot read it");
  return from_bytes(bytes.str(), path);
}

KerasModel KerasModel::from_bytes(const std::string& bytes, const std::string& file) {
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  const bool zip = bytes.compare(0, 4, "PK\x03\x04") == 0 || bytes.compare(0, 4, "PK\x05\x06") == 0;
  const bool hdf5 = bytes.compare(0, 8, "\x89HDF\r\n\x1a\n") == 0;
  if (!zip && !hdf5) {
    throw Error(ErrorKind::invalid_input,
                file + ": neither a .keras archive (zip) nor a legacy .h5 model (HDF5)");
  }
  impl->format = zip ? "keras" : "h5";

  std::string weights_bytes;  // the HDF5 file that holds the weights
  json model;
  std::map<std::string, std::string> entries;
  if (zip) {
    constexpr uint64_t kMaxEntry = uint64_t{4} << 30;
    entries = detail::read_zip(bytes, file, {"config.json", "metadata.json", "model.weights.h5"},
                               kMaxEntry);
    if (!entries.count("config.json")) {
      throw Error(ErrorKind::invalid_input, file + ": the archive lacks config.json");
    }
    if (!entries.count("model.weights.h5")) {
      throw Error(ErrorKind::unsupported,
                  file + ": the archive lacks model.weights.h5 (sharded weights are not read)");
    }
    model = parse_json(entries["config.json"], file + ": config.json");
    if (entries.count("metadata.json")) {
      const json meta = parse_json(entries["metadata.json"], file + ": metadata.json");
      if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string())
        impl->keras_version = meta["keras_version"].get<std::string>();
    }
  }
  const std::string& h5_bytes = zip ? entries["model.weights.h5"] : bytes;
  const std::string h5_name = zip ? file + ": model.weights.h5" : file;
  detail::H5File h5(h5_bytes, h5_name);
  if (!zip) {
    if (!h5.has_attribute("", "model_config")) {
      throw Error(ErrorKind::invalid_input,
                  file + ": an HDF5 file without a model_config attribute (a weights-only file?)");
    }
    const std::vector<std::string> text = h5.strings("", "model_config");
    if (text.size() != 1) {
      throw Error(ErrorKind::invalid_input, file + ": model_config is not one string");
    }
    model = parse_json(text[0], file + ": model_config");
    if (h5.has_attribute("", "keras_version")) {
      const std::vector<std::string> version = h5.strings("", "keras_version");
      if (version.size() == 1) impl->keras_version = version[0];
    }
    if (!h5.exists("model_weights")) {
      throw Error(ErrorKind::invalid_input, file + ": the file lacks the group model_weights");
    }
  }
  impl->keras2 = impl->keras_version.rfind("2.", 0) == 0 || impl->keras_version.rfind("1.", 0) == 0;
  if (!is_model(model)) {
    throw Error(ErrorKind::unsupported,
                file +
                    ": the model config is not a Sequential or Functional model with a layer "
                    "list (class_name " +
                    (model.is_object() && model.contains("class_name")
                         ? model["class_name"].dump().substr(0, 100)
                         : std::string("missing")) +
                    ")");
  }

  std::vector<Found> found;
  walk(model, "", "", "", file, found);
  for (const Found& f : found) {
    const std::string where = file + ": layer '" + f.info.name + "' (" + f.info.class_name + ")";
    try {
      require_float32(f);
      const std::unique_ptr<Layer> layer = layer_from_config(f.info.config, impl->keras2);
      const std::vector<std::string> names = layer->weight_names();
      std::vector<std::string> paths;
      if (zip) {
        const std::string vars = f.keras_path + "/vars";
        if (!h5.exists(vars)) {
          throw Error(ErrorKind::invalid_input,
                      "model.weights.h5 lacks its weights '/" + vars + "'");
        }
        if (h5.has_attribute(vars, "name")) {
          const std::vector<std::string> owner = h5.strings(vars, "name");
          if (owner.size() != 1 || owner[0] != f.bare_name) {
            throw Error(ErrorKind::invalid_input,
                        "model.weights.h5 '/" + vars + "' holds the weights of '" +
                            (owner.empty() ? std::string() : owner[0]) +
                            "', not of this layer: the weights do not match the config");
          }
        }
        for (size_t i = 0; i < names.size(); i++) paths.push_back(vars + "/" + std::to_string(i));
        if (h5.exists(vars + "/" + std::to_string(names.size()))) {
          throw Error(ErrorKind::invalid_input, "'/" + vars + "' holds more than the " +
                                                    std::to_string(names.size()) +
                                                    " weights the config implies");
        }
      } else {
        const std::string group = "model_weights/" + f.top_layer;
        if (!h5.exists(group)) {
          throw Error(ErrorKind::invalid_input,
                      "the file lacks its weights group '/" + group + "'");
        }
        for (const std::string& w : h5.strings(group, "weight_names")) {
          const size_t last = w.rfind('/');
          const size_t before =
              last == std::string::npos || last == 0 ? std::string::npos : w.rfind('/', last - 1);
          const std::string owner =
              last == std::string::npos
                  ? std::string()
                  : w.substr(before == std::string::npos ? 0 : before + 1,
                             last - (before == std::string::npos ? 0 : before + 1));
          if (owner == f.bare_name) paths.push_back(group + "/" + w);
        }
        if (paths.size() != names.size()) {
          throw Error(ErrorKind::invalid_input, "'/" + group + "' lists " +
                                                    std::to_string(paths.size()) +
                                                    " weights of this layer, its config implies " +
                                                    std::to_string(names.size()));
        }
      }
      std::vector<Tensor> weights;
      for (size_t i = 0; i < names.size(); i++) {
        try {
          weights.push_back(h5.read(paths[i]));
        } catch (const Error& e) {
          throw Error(e.kind(), names[i] + ": " + e.what());
        }
      }
      layer->set_weights(weights);
      impl->layers.push_back(f.info);
      impl->weights.push_back(std::move(weights));
    } catch (const Error& e) {
      // The file readers name the file too; it is said once, first.
      std::string what = e.what();
      if (what.rfind(file + ": ", 0) == 0) what.erase(0, file.size() + 2);
      throw Error(e.kind(), where + ": " + what);
    }
  }
  return KerasModel(std::move(impl));
}

const std::string& KerasModel::file() const { return impl_->file; }
const std::string& KerasModel::format() const { return impl_->format; }
const std::string& KerasModel::keras_version() const { return impl_->keras_version; }
const std::vector<ModelLayer>& KerasModel::layers() const { return impl_->layers; }

const ModelLayer& KerasModel::find(const std::string& name) const {
  const ModelLayer* match = nullptr;
  int by_last_part = 0;
  for (const ModelLayer& l : impl_->layers) {
    if (l.name == name) return l;
    const size_t slash = l.name.rfind('/');
    if (slash != std::string::npos && l.name.substr(slash + 1) == name) {
      match = &l;
      by_last_part++;
    }
  }
  if (by_last_part == 1) return *match;
  std::string names;
  for (size_t i = 0; i < impl_->layers.size() && i < 12; i++) {
    names += (i ? ", " : "") + impl_->layers[i].name;
  }
  if (impl_->layers.size() > 12) names += ", ... (" + std::to_string(impl_->layers.size()) + ")";
  throw Error(ErrorKind::invalid_input,
              impl_->file + ": " +
                  (by_last_part > 1 ? "more than one conv layer is named '" + name +
                                          "'; name it with its model: "
                                    : "no conv layer is named '" + name + "'; the conv layers: ") +
                  (names.empty() ? "none" : names));
}

std::unique_ptr<Layer> KerasModel::layer(const std::string& name) const {
  const ModelLayer& info = find(name);
  const size_t index = static_cast<size_t>(&info - impl_->layers.data());
  std::unique_ptr<Layer> layer = layer_from_config(info.config, impl_->keras2);
  layer->set_weights(impl_->weights[index]);
  return layer;
}

std::vector<std::string> KerasModel::specialized_records() const {
  struct Record {
    json record;
    std::vector<std::string> layers;
    size_t rank;  // the specialized variant's place in the selection order
  };
  std::vector<Record> records;
  const std::vector<detail::Variant> table = detail::variants();
  for (const ModelLayer& info : impl_->layers) {
    const Shape shape = info.input_shape_with_batch(1);
    if (shape.empty()) continue;
    for (const Decision& d : layer(info.name)->decisions(shape)) {
      const detail::Variant& v = detail::find_variant(d.variant);
      if (v.backend != Device::cpu) continue;
      const Problem& w = d.window;
      // A run-time value is fixed to the layer's where both axes agree.
      const auto fixed = [](int generated, int64_t h, int64_t wd) {
        return generated ? json(generated) : h == wd ? json(h) : json("any");
      };
      json record = {{"layout", v.layout == DataFormat::channels_last ? "nhwc" : "nchw"}};
      if (v.nchw_by_channels) record["by_channels"] = true;
      record["kernel"] = fixed(v.kernel, w.kernel_h, w.kernel_w);
      record["stride"] = fixed(v.stride, w.stride_h, w.stride_w);
      record["dilation"] = fixed(v.dilation, w.dilation_h, w.dilation_w);
      for (const auto& [mode_name, mode] : kGroupsModeNames) {
        if (v.groups == mode && mode != GroupsMode::dense) record["groups"] = mode_name;
      }
      if (v.winograd) record["algorithm"] = "winograd";
      json bounds = json::object();
      if (v.max_filters) bounds["max_filters"] = v.max_filters;
      if (v.max_output_pixels) bounds["max_output_pixels"] = v.max_output_pixels;
      if (v.max_in_channels) bounds["max_in_channels"] = v.max_in_channels;
      if (!bounds.empty()) record["class"] = bounds;
      // Built-in CPU variants are named conv2d_<key>_cpu (docs/variants.md's grammar).
      const std::string name = v.name;
      const bool builtin = name.rfind("conv2d_", 0) == 0 && name.size() > 11 &&
                           name.compare(name.size() - 4, 4, "_cpu") == 0;
      record["specializes"] = builtin ? name.substr(7, name.size() - 11) : name;
      auto same = std::find_if(records.begin(), records.end(),
                               [&](const Record& r) { return r.record == record; });
      if (same == records.end()) {
        size_t rank = 0;
        while (rank < table.size() && table[rank].name != name) rank++;
        records.push_back({record, {}, rank});
        same = records.end() - 1;
      }
      if (same->layers.empty() || same->layers.back() != info.name) {
        same->layers.push_back(info.name);
      }
    }
  }
  // In selection order, so that a consumer registering them keeps it (see the header).
  std::stable_sort(records.begin(), records.end(),
                   [](const Record& a, const Record& b) { return a.rank < b.rank; });
  std::vector<std::string> out;
  const std::string file = impl_->file.substr(impl_->file.rfind('/') + 1);
  for (auto& [record, layers, rank] : records) {
    std::string reason = file + ": ";
    for (size_t i = 0; i < layers.size(); i++) reason += (i ? ", " : "") + layers[i];
    std::replace(reason.begin(), reason.end(), ';', ',');  // CMake lists split at ';'
    record["reason"] = reason;
    out.push_back(record.dump());
  }
  return out;
}

}  // namespace halconv
