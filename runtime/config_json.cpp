// Keras 3 get_config() JSON of the conv layers, read strictly: wrong types and missing keys are
// Errors.
#include <nlohmann/json.hpp>

#include "halconv/depthwise.h"
#include "halconv/io.h"

namespace halconv {
namespace {

using json = nlohmann::ordered_json;

// Initializers: Keras class name <-> snake_case name.
constexpr std::pair<const char*, const char*> kInitializerClasses[] = {
    {"GlorotUniform", "glorot_uniform"},
    {"GlorotNormal", "glorot_normal"},
    {"HeNormal", "he_normal"},
    {"HeUniform", "he_uniform"},
    {"LecunNormal", "lecun_normal"},
    {"LecunUniform", "lecun_uniform"},
    {"Zeros", "zeros"},
    {"Ones", "ones"},
    {"Constant", "constant"},
    {"RandomNormal", "random_normal"},
    {"RandomUniform", "random_uniform"},
    {"TruncatedNormal", "truncated_normal"}};

int64_t get_int(const json& value, const std::string& key) {
  if (!value.is_number_integer()) {
    throw Error(ErrorKind::invalid_config,
                "config key '" + key + "' must be an integer, got " + value.dump());
  }
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    throw Error(ErrorKind::invalid_config,
                "config key '" + key + "' is out of range: " + value.dump());
  }
  return value.get<int64_t>();
}

double get_number(const json& value, const std::string& key) {
  if (!value.is_number()) {
    throw Error(ErrorKind::invalid_config,
                "config key '" + key + "' must be a number, got " + value.dump());
  }
  return value.get<double>();
}

// Keras accepts an int or a tuple of two ints for kernel_size, strides and dilation_rate.
Pair get_pair(const json& value, const std::string& key) {
  if (value.is_number_integer()) return Pair(get_int(value, key));
  if (value.is_array() && value.size() == 2) {
    return Pair(get_int(value[0], key + "[0]"), get_int(value[1], key + "[1]"));
  }
  throw Error(ErrorKind::invalid_config,
              "config key '" + key + "' must be an int or a list of 2 ints, got " + value.dump());
}

std::string get_string(const json& value, const std::string& key) {
  if (!value.is_string()) {
    throw Error(ErrorKind::invalid_config,
                "config key '" + key + "' must be a string, got " + value.dump());
  }
  return value.get<std::string>();
}

Initializer get_initializer(const json& value, const std::string& key) {
  if (value.is_string()) return Initializer(value.get<std::string>());
  if (!value.is_object() || !value.contains("class_name")) {
    throw Error(
        ErrorKind::invalid_config,
        "config key '" + key + "' must be an initializer name or object, got " + value.dump());
  }
  const std::string cls = get_string(value["class_name"], key + ".class_name");
  Initializer init(cls);  // an unknown class keeps its name; build() reports it
  for (const auto& [keras_class, name] : kInitializerClasses) {
    if (cls == keras_class) init.name = name;
  }
  if (value.contains("config") && value["config"].is_object()) {
    const json& c = value["config"];
    auto number = [&](const char* field, double& out) {
      if (c.contains(field) && !c[field].is_null()) {
        out = get_number(c[field], key + ".config." + field);
      }
    };
    number("value", init.value);
    number("mean", init.mean);
    number("stddev", init.stddev);
    number("minval", init.minval);
    number("maxval", init.maxval);
    if (c.contains("seed") && !c["seed"].is_null()) {
      init.seed = static_cast<uint64_t>(get_int(c["seed"], key + ".config.seed"));
    }
  }
  return init;
}

json initializer_json(const Initializer& init) {
  std::string cls = init.name;
  for (const auto& [keras_class, name] : kInitializerClasses) {
    if (init.name == name) cls = keras_class;
  }
  json config = json::object();
  const bool seeded = init.name != "zeros" && init.name != "ones" && init.name != "constant";
  if (seeded) config["seed"] = init.seed ? json(*init.seed) : json(nullptr);
  if (init.name == "constant") config["value"] = init.value;
  if (init.name == "random_normal" || init.name == "truncated_normal") {
    config["mean"] = init.mean;
    config["stddev"] = init.stddev;
  }
  if (init.name == "random_uniform") {
    config["minval"] = init.minval;
    config["maxval"] = init.maxval;
  }
  return {{"module", "keras.initializers"},
          {"class_name", cls},
          {"config", config},
          {"registered_name", nullptr}};
}

// A config's JSON object: the text parsed with a depth limit, unwrapped from Keras'
// {"class_name": ..., "config": {...}} form when it has one, whose class must be `expected`
// (any supported class when empty).
json parse_object(const std::string& text, const std::string& expected, std::string* class_name) {
  // A Keras config nests a few levels; anything deeper is rejected while parsing, before it
  // can cost memory or stack.
  constexpr int kMaxDepth = 32;
  const json::parser_callback_t limit_depth = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxDepth) {
      throw Error(ErrorKind::invalid_config,
                  "config JSON nests deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text, limit_depth);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::invalid_config, std::string("config is not valid JSON: ") + e.what());
  }
  if (!root.is_object())
    throw Error(ErrorKind::invalid_config, "config must be a JSON object, got " + root.dump());
  std::string cls;
  const bool root_was_wrapped = root.contains("class_name") && root.contains("config");
  if (root_was_wrapped) {
    cls = get_string(root["class_name"], "class_name");
    if (cls != "Conv2D" && cls != "DepthwiseConv2D" && cls != "SeparableConv2D") {
      throw Error(ErrorKind::unsupported, "config class_name '" + cls +
                                              "' is not a layer halconv runs (Conv2D, "
                                              "DepthwiseConv2D, SeparableConv2D)");
    }
    root = json(root["config"]);
    if (!root.is_object())
      throw Error(ErrorKind::invalid_config, "config.config must be a JSON object");
  } else if (root.contains("depth_multiplier")) {
    cls = root.contains("filters") ? "SeparableConv2D" : "DepthwiseConv2D";
  } else {
    cls = "Conv2D";
  }
  // A bare config is read as the class asked for; the inference above serves the factory.
  if (!expected.empty() && !root_was_wrapped) cls = expected;
  if (!expected.empty() && cls != expected) {
    throw Error(ErrorKind::invalid_config,
                "config class_name must be " + expected + ", got '" + cls + "'");
  }
  if (class_name) *class_name = cls;
  return root;
}

void require_keys(const json& root, std::initializer_list<const char*> keys) {
  for (const char* required : keys) {
    if (!root.contains(required))
      throw Error(ErrorKind::invalid_config,
                  std::string("config lacks the key '") + required + "'");
  }
}

// An initializer key, when present and not null.
void read_initializer(const json& root, const char* key, Initializer& out) {
  if (root.contains(key) && !root[key].is_null()) out = get_initializer(root[key], key);
}

// The keys every Keras conv layer has; Config is one of the three config structs.
template <typename Config>
void read_common_keys(const json& root, Config& c) {
  c.kernel_size = get_pair(root["kernel_size"], "kernel_size");
  if (root.contains("name") && !root["name"].is_null()) c.name = get_string(root["name"], "name");
  if (root.contains("strides")) c.strides = get_pair(root["strides"], "strides");
  if (root.contains("dilation_rate")) {
    c.dilation_rate = get_pair(root["dilation_rate"], "dilation_rate");
  }
  if (root.contains("padding")) c.padding = parse_padding(get_string(root["padding"], "padding"));
  if (root.contains("data_format") && !root["data_format"].is_null()) {
    c.data_format = parse_data_format(get_string(root["data_format"], "data_format"));
  }
  if (root.contains("activation") && !root["activation"].is_null()) {
    const json& a = root["activation"];
    // Keras writes built-in activations as their name; a serialized function object also works.
    c.activation = a.is_object() && a.contains("config") ? get_string(a["config"], "activation")
                                                         : get_string(a, "activation");
  }
  if (root.contains("use_bias")) {
    if (!root["use_bias"].is_boolean()) {
      throw Error(ErrorKind::invalid_config,
                  "config key 'use_bias' must be true or false, got " + root["use_bias"].dump());
    }
    c.use_bias = root["use_bias"].get<bool>();
  }
  read_initializer(root, "bias_initializer", c.bias_initializer);
}

template <typename Config>
json common_keys_json(const Config& c) {
  return {{"name", c.name},
          {"trainable", true},
          {"dtype",
           {{"module", "keras"},
            {"class_name", "DTypePolicy"},
            {"config", {{"name", "float32"}}},
            {"registered_name", nullptr}}},
          {"kernel_size", {c.kernel_size.h, c.kernel_size.w}},
          {"strides", {c.strides.h, c.strides.w}},
          {"padding", c.padding == Padding::valid ? "valid" : "same"},
          {"data_format",
           c.data_format == DataFormat::channels_last ? "channels_last" : "channels_first"},
          {"dilation_rate", {c.dilation_rate.h, c.dilation_rate.w}},
          {"activation", activation_name(parse_activation(c.activation))},
          {"use_bias", c.use_bias},
          {"bias_initializer", initializer_json(c.bias_initializer)},
          {"bias_regularizer", nullptr},
          {"activity_regularizer", nullptr},
          {"bias_constraint", nullptr}};
}

// The depthwise keys DepthwiseConv2D and SeparableConv2D share.
template <typename Config>
void read_depthwise_keys(const json& root, Config& c) {
  if (root.contains("depth_multiplier")) {
    c.depth_multiplier = get_int(root["depth_multiplier"], "depth_multiplier");
  }
  read_initializer(root, "depthwise_initializer", c.depthwise_initializer);
}

template <typename Config>
void write_depthwise_keys(const Config& c, json& j) {
  j["depth_multiplier"] = c.depth_multiplier;
  j["depthwise_initializer"] = initializer_json(c.depthwise_initializer);
  j["depthwise_regularizer"] = nullptr;
  j["depthwise_constraint"] = nullptr;
}

}  // namespace

std::string layer_class_name(const std::string& text) {
  std::string cls;
  parse_object(text, "", &cls);
  return cls;
}

Conv2DConfig parse_config_json(const std::string& text) {
  const json root = parse_object(text, "Conv2D", nullptr);
  require_keys(root, {"filters", "kernel_size"});
  Conv2DConfig c;
  c.filters = get_int(root["filters"], "filters");
  read_common_keys(root, c);
  if (root.contains("groups")) c.groups = get_int(root["groups"], "groups");
  read_initializer(root, "kernel_initializer", c.kernel_initializer);
  validate_config(c);
  return c;
}

std::string config_to_json(const Conv2DConfig& c) {
  json j = common_keys_json(c);
  j["filters"] = c.filters;
  j["groups"] = c.groups;
  j["kernel_initializer"] = initializer_json(c.kernel_initializer);
  j["kernel_regularizer"] = nullptr;
  j["kernel_constraint"] = nullptr;
  return j.dump();
}

DepthwiseConv2DConfig parse_depthwise_config_json(const std::string& text) {
  const json root = parse_object(text, "DepthwiseConv2D", nullptr);
  require_keys(root, {"kernel_size"});
  DepthwiseConv2DConfig c;
  read_common_keys(root, c);
  read_depthwise_keys(root, c);
  validate_config(c);
  return c;
}

std::string depthwise_config_to_json(const DepthwiseConv2DConfig& c) {
  json j = common_keys_json(c);
  write_depthwise_keys(c, j);
  return j.dump();
}

SeparableConv2DConfig parse_separable_config_json(const std::string& text) {
  const json root = parse_object(text, "SeparableConv2D", nullptr);
  require_keys(root, {"filters", "kernel_size"});
  SeparableConv2DConfig c;
  c.filters = get_int(root["filters"], "filters");
  read_common_keys(root, c);
  read_depthwise_keys(root, c);
  read_initializer(root, "pointwise_initializer", c.pointwise_initializer);
  validate_config(c);
  return c;
}

std::string separable_config_to_json(const SeparableConv2DConfig& c) {
  json j = common_keys_json(c);
  j["filters"] = c.filters;
  write_depthwise_keys(c, j);
  j["pointwise_initializer"] = initializer_json(c.pointwise_initializer);
  j["pointwise_regularizer"] = nullptr;
  j["pointwise_constraint"] = nullptr;
  return j.dump();
}

}  // namespace halconv
