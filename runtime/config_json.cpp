// Keras 3 Conv2D.get_config() JSON, read strictly: wrong types and missing keys are Errors.
#include <nlohmann/json.hpp>

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

}  // namespace

Conv2DConfig parse_config_json(const std::string& text) {
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
  if (root.contains("class_name") && root.contains("config")) {
    const std::string cls = get_string(root["class_name"], "class_name");
    if (cls != "Conv2D")
      throw Error(ErrorKind::invalid_config, "config class_name must be Conv2D, got '" + cls + "'");
    root = root["config"];
    if (!root.is_object())
      throw Error(ErrorKind::invalid_config, "config.config must be a JSON object");
  }

  Conv2DConfig c;
  for (const char* required : {"filters", "kernel_size"}) {
    if (!root.contains(required))
      throw Error(ErrorKind::invalid_config,
                  std::string("config lacks the key '") + required + "'");
  }
  c.filters = get_int(root["filters"], "filters");
  c.kernel_size = get_pair(root["kernel_size"], "kernel_size");
  if (root.contains("name") && !root["name"].is_null()) c.name = get_string(root["name"], "name");
  if (root.contains("strides")) c.strides = get_pair(root["strides"], "strides");
  if (root.contains("dilation_rate")) {
    c.dilation_rate = get_pair(root["dilation_rate"], "dilation_rate");
  }
  if (root.contains("groups")) c.groups = get_int(root["groups"], "groups");
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
  if (root.contains("kernel_initializer") && !root["kernel_initializer"].is_null()) {
    c.kernel_initializer = get_initializer(root["kernel_initializer"], "kernel_initializer");
  }
  if (root.contains("bias_initializer") && !root["bias_initializer"].is_null()) {
    c.bias_initializer = get_initializer(root["bias_initializer"], "bias_initializer");
  }
  validate_config(c);
  return c;
}

std::string config_to_json(const Conv2DConfig& c) {
  json j = {{"name", c.name},
            {"trainable", true},
            {"dtype",
             {{"module", "keras"},
              {"class_name", "DTypePolicy"},
              {"config", {{"name", "float32"}}},
              {"registered_name", nullptr}}},
            {"filters", c.filters},
            {"kernel_size", {c.kernel_size.h, c.kernel_size.w}},
            {"strides", {c.strides.h, c.strides.w}},
            {"padding", c.padding == Padding::valid ? "valid" : "same"},
            {"data_format",
             c.data_format == DataFormat::channels_last ? "channels_last" : "channels_first"},
            {"dilation_rate", {c.dilation_rate.h, c.dilation_rate.w}},
            {"groups", c.groups},
            {"activation", activation_name(parse_activation(c.activation))},
            {"use_bias", c.use_bias},
            {"kernel_initializer", initializer_json(c.kernel_initializer)},
            {"bias_initializer", initializer_json(c.bias_initializer)},
            {"kernel_regularizer", nullptr},
            {"bias_regularizer", nullptr},
            {"activity_regularizer", nullptr},
            {"kernel_constraint", nullptr},
            {"bias_constraint", nullptr}};
  return j.dump();
}

}  // namespace halconv
