// The halconv command-line program: run a Keras conv layer (Conv2D, DepthwiseConv2D,
// SeparableConv2D), from its config and .npy weights or from a model file, on .npy files; explain
// the variant choice; list a model's conv layers and the compiled variants. A thin
// layer over halconv::Layer; the HALCONV_* variables are read once (Options::from_environment)
// and the flags override them. Exit codes: 0 ok, 1 bad input or run-time failure, 2 usage.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "halconv/halconv.h"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw halconv::Error(halconv::ErrorKind::invalid_input, "cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

halconv::Shape parse_shape(const std::string& text) {
  halconv::Shape shape;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw halconv::Error(halconv::ErrorKind::invalid_input,
                           "--input-shape: '" + item + "' in '" + text + "' is not an integer");
    }
    shape.push_back(value);
  }
  return shape;
}

// The flags every command that decides shares; unset ones keep the environment's values.
struct DecisionArgs {
  std::string device = "auto", variant, isa;
  int threads = 0;
  int64_t stream_rows = -2;  // -2: not given

  void add_to(CLI::App* cmd) {
    cmd->add_option("--device", device, "auto (the CPU), cpu, cuda, opencl")->capture_default_str();
    cmd->add_option("--variant", variant, "force a compiled variant (halconv variants)");
    cmd->add_option("--isa", isa,
                    "the best CPU ISA object to run: auto or a level halconv variants lists");
    cmd->add_option("--threads", threads,
                    "Halide worker threads (0: HL_NUM_THREADS or one per core)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--stream-rows", stream_rows, "streamed output bands: 0 never, n rows, -1 rule")
        ->check(CLI::Range(int64_t{-1}, int64_t{1} << 30));
  }
  halconv::Options options() const {
    halconv::Options o = halconv::Options::from_environment();
    if (!variant.empty()) o.variant = variant;
    if (!isa.empty()) o.isa = halconv::parse_isa(isa);
    if (threads > 0) o.threads = threads;
    if (stream_rows != -2) o.stream_rows = stream_rows;
    return o;
  }
};

// Where a layer comes from: its config (with weights from flags), or a model file and a layer.
struct LayerArgs {
  std::string config, model, layer;
  bool keras2_hard_sigmoid = false;

  void add_to(CLI::App* cmd, const std::string& config_help) {
    auto* config_opt = cmd->add_option("--config", config, config_help);
    auto* model_opt = cmd->add_option("--model", model, "a Keras model file (.keras or .h5)");
    auto* layer_opt = cmd->add_option("--layer", layer, "the model's conv layer to use");
    config_opt->excludes(model_opt);
    layer_opt->needs(model_opt);
    cmd->add_flag("--keras2-hard-sigmoid", keras2_hard_sigmoid,
                  "hard_sigmoid as Keras 2 defines it: clip(0.2x + 0.5, 0, 1) (a Keras 2 model "
                  "file implies it)");
  }
  void check() const {
    if (config.empty() && model.empty())
      throw halconv::Error(halconv::ErrorKind::invalid_input, "--config or --model is required");
    if (!model.empty() && layer.empty())
      throw halconv::Error(halconv::ErrorKind::invalid_input,
                           "--model needs --layer (halconv model " + model + " lists them)");
  }
};

struct RunArgs {
  LayerArgs source;
  std::string input, output;
  // A weight file per weight name a layer class lists (Layer::weight_names()), by flag.
  std::string kernel, depthwise_kernel, pointwise_kernel, bias;
  bool time = false;
  DecisionArgs decision;

  std::vector<std::pair<std::string, const std::string*>> weight_flags() const {
    return {{"kernel", &kernel},
            {"depthwise_kernel", &depthwise_kernel},
            {"pointwise_kernel", &pointwise_kernel},
            {"bias", &bias}};
  }
};

// "depthwise_kernel" -> "--depthwise-kernel".
std::string flag_of(std::string weight) {
  std::replace(weight.begin(), weight.end(), '_', '-');
  return "--" + weight;
}

// The layer of a config file (Conv2D, DepthwiseConv2D or SeparableConv2D, by its class_name), or
// of a model file with its weights, with the CLI's options and device. `recorded` gets the input
// shape the model file recorded, batch 1 (empty if none).
std::unique_ptr<halconv::Layer> load_layer(const LayerArgs& source, const DecisionArgs& args,
                                           halconv::Shape* recorded = nullptr) {
  source.check();
  std::unique_ptr<halconv::Layer> layer;
  if (source.model.empty()) {
    layer = halconv::layer_from_config(read_text(source.config), source.keras2_hard_sigmoid);
  } else {
    const halconv::KerasModel model = halconv::KerasModel::load(source.model);
    if (recorded) *recorded = model.find(source.layer).input_shape_with_batch(1);
    layer = model.layer(source.layer);
  }
  layer->set_device(halconv::parse_device(args.device));
  layer->set_options(args.options());
  return layer;
}

// `halconv model FILE`: each conv layer, its input and output shapes and what would run it.
void list_model(const std::string& path, int64_t batch, bool as_json, bool records,
                const DecisionArgs& args) {
  const halconv::KerasModel model = halconv::KerasModel::load(path);
  if (records) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& record : model.specialized_records()) {
      list.push_back(nlohmann::json::parse(record));
    }
    std::cout << list.dump(2) << "\n";
    return;
  }
  nlohmann::json list = nlohmann::json::array();
  if (!as_json) {
    std::cout << path << ": " << (model.format() == "keras" ? ".keras" : "legacy .h5") << " model"
              << (model.keras_version().empty() ? "" : ", Keras " + model.keras_version()) << ", "
              << model.layers().size() << " conv layers\n";
  }
  for (const halconv::ModelLayer& info : model.layers()) {
    std::unique_ptr<halconv::Layer> layer = model.layer(info.name);
    layer->set_device(halconv::parse_device(args.device));
    layer->set_options(args.options());
    const halconv::Shape shape = info.input_shape_with_batch(batch);
    nlohmann::json item = {{"name", info.name},
                           {"class_name", info.class_name},
                           {"input_shape", info.input_shape},
                           {"config", nlohmann::json::parse(info.config)}};
    std::string runs;
    if (!shape.empty()) {
      item["output_shape"] = layer->compute_output_shape(shape);
      item["decisions"] = nlohmann::json::array();
      for (const halconv::Decision& d : layer->decisions(shape)) {
        item["decisions"].push_back(nlohmann::json::parse(d.to_json()));
        runs += (runs.empty() ? "" : " then ") + d.variant + " (" + d.isa + ")";
      }
    }
    if (as_json) {
      list.push_back(item);
    } else {
      std::cout << "  " << info.name << "  " << info.class_name << "  ";
      if (shape.empty()) {
        std::cout << "input shape not recorded\n";
      } else {
        std::cout << halconv::shape_to_string(shape) << " -> "
                  << halconv::shape_to_string(layer->compute_output_shape(shape)) << "  " << runs
                  << "\n";
      }
    }
  }
  if (as_json) std::cout << list.dump(2) << "\n";
}

void run(const RunArgs& args) {
  std::unique_ptr<halconv::Layer> layer = load_layer(args.source, args.decision);
  const std::vector<std::string> names = layer->weight_names();
  if (!args.source.model.empty()) {
    for (const auto& [name, file] : args.weight_flags()) {
      if (!file->empty()) {
        throw halconv::Error(halconv::ErrorKind::invalid_input,
                             flag_of(name) + " was given with --model, which holds the weights");
      }
    }
  }
  // Missing weights first (the likelier mistake), then flags this class has no weight for.
  for (bool missing : {true, false}) {
    for (const auto& [name, file] : args.weight_flags()) {
      const bool needed = std::find(names.begin(), names.end(), name) != names.end();
      if (missing && needed && file->empty() && args.source.model.empty()) {
        throw halconv::Error(halconv::ErrorKind::invalid_input,
                             name == "bias"
                                 ? "use_bias is true, so --bias is required"
                                 : "a " + layer->class_name() + " config needs " + flag_of(name));
      }
      if (!missing && !needed && !file->empty()) {
        throw halconv::Error(halconv::ErrorKind::invalid_input,
                             name == "bias" ? "--bias was given but the config has use_bias false"
                                            : flag_of(name) + " was given but a " +
                                                  layer->class_name() + " has no " + name);
      }
    }
  }
  const halconv::Tensor input = halconv::read_npy(args.input);
  if (args.source.model.empty()) {
    std::vector<halconv::Tensor> weights;
    for (const std::string& name : names) {
      for (const auto& [flag_name, file] : args.weight_flags()) {
        if (flag_name == name) weights.push_back(halconv::read_npy(*file));
      }
    }
    layer->set_weights(weights);
  }
  const std::vector<halconv::Decision> decisions = layer->decisions(input.shape);
  const auto start = std::chrono::steady_clock::now();
  const halconv::Tensor output = (*layer)(input);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  halconv::write_npy(args.output, output);
  std::cout << "ran";
  for (size_t i = 0; i < decisions.size(); i++) {
    std::cout << (i ? " then " : " ") << decisions[i].variant << " (" << decisions[i].isa << ")";
  }
  if (args.time) std::cout << " in " << ms << " ms, packing and planning included";
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halconv: Keras Conv2D forward pass from Halide-generated kernels"};
  app.require_subcommand(0, 1);

  bool show_version = false;
  app.add_flag("--version", show_version, "print the version and exit");

  RunArgs run_args;
  CLI::App* run_cmd =
      app.add_subcommand("run", "Run a conv layer (a config, or a model file's) on .npy tensors");
  run_args.source.add_to(run_cmd,
                         "Keras get_config() JSON of a Conv2D, DepthwiseConv2D or SeparableConv2D");
  run_cmd->add_option("--input", run_args.input, "input .npy in the config's data_format")
      ->required();
  run_cmd->add_option("--kernel", run_args.kernel,
                      "kernel .npy: Conv2D (kh, kw, in/groups, filters), DepthwiseConv2D "
                      "(kh, kw, in, depth_multiplier)");
  run_cmd->add_option("--depthwise-kernel", run_args.depthwise_kernel,
                      "SeparableConv2D: depthwise kernel .npy, (kh, kw, in, depth_multiplier)");
  run_cmd->add_option("--pointwise-kernel", run_args.pointwise_kernel,
                      "SeparableConv2D: pointwise kernel .npy, (1, 1, in * depth_multiplier, "
                      "filters)");
  run_cmd->add_option("--bias", run_args.bias,
                      "bias .npy, (output channels,); needed when use_bias");
  run_cmd->add_option("--output", run_args.output, "output .npy (float32)")->required();
  run_cmd->add_flag("--time", run_args.time, "print the call's time too");
  run_args.decision.add_to(run_cmd);

  LayerArgs explain_source;
  std::string explain_shape, explain_input;
  bool explain_json = false;
  DecisionArgs explain_args;
  CLI::App* explain_cmd =
      app.add_subcommand("explain",
                         "Show how a problem runs: variant, object, packing, and why "
                         "better variants declined");
  explain_source.add_to(explain_cmd, "Keras layer get_config() JSON");
  auto* shape_opt = explain_cmd->add_option(
      "--input-shape", explain_shape, "N,H,W,C or N,C,H,W (a model's layer: as recorded, N 1)");
  auto* input_opt = explain_cmd->add_option("--input", explain_input, "an input .npy (its shape)");
  shape_opt->excludes(input_opt);
  explain_cmd->add_flag("--json", explain_json, "the decision as one JSON object");
  explain_args.add_to(explain_cmd);

  std::string model_file;
  int64_t model_batch = 1;
  bool model_json = false, model_records = false;
  DecisionArgs model_args;
  CLI::App* model_cmd = app.add_subcommand(
      "model", "List a Keras model file's conv layers, their shapes and the variants they run");
  model_cmd->add_option("file", model_file, "a .keras archive or a legacy .h5 model")->required();
  model_cmd->add_option("--batch", model_batch, "the batch size of shapes that leave it unset")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->capture_default_str();
  model_cmd->add_flag("--json", model_json, "as a JSON array");
  model_cmd->add_flag("--records", model_records,
                      "the variant records specialized to the model (halconv_add_keras_model)");
  model_args.add_to(model_cmd);

  bool variants_json = false;
  CLI::App* variants_cmd = app.add_subcommand("variants", "List the compiled variants");
  variants_cmd->add_flag("--json", variants_json, "as a JSON array");
  CLI::App* devices_cmd = app.add_subcommand("devices", "List the devices found");
  // `halconv bench|demo|tune ARGS` runs halconv_bench|halconv_demo|halconv_tune ARGS, the program
  // beside this one (they link oneDNN or libHalide, which the CLI itself does not need). The tuner
  // is a build-tree tool: it rewrites the source tree's schedules/.
  const std::pair<const char*, const char*> tools[] = {
      {"bench", "Benchmark against oneDNN on shape suites (--help there)"},
      {"demo", "Run the seed's six layers with timings and spot checks"},
      {"tune", "Autotune the CPU schedules (build tree only; docs/tuning.md)"}};
  for (const auto& [tool, help] : tools) app.add_subcommand(tool, help)->prefix_command();
  for (const auto& [tool, help] : tools) {
    if (argc < 2 || std::string(argv[1]) != tool) continue;
    const std::string self = std::filesystem::canonical("/proc/self/exe").string();
    const std::string program = self.substr(0, self.rfind('/') + 1) + "halconv_" + tool;
    std::vector<char*> args = {const_cast<char*>(program.c_str())};
    for (int i = 2; i < argc; i++) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(program.c_str(), args.data());
    std::cerr << "halconv: error: cannot run " << program << ": " << std::strerror(errno)
              << (std::string(tool) == "tune" ? " (the tuner runs from a build tree)" : "") << "\n";
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "halconv: usage error: " << e.what()
              << "\nRun with --help for more information.\n";
    return 2;
  }

  try {
    if (show_version) {
      std::cout << "halconv " << halconv::version() << "\n";
    } else if (*run_cmd) {
      run(run_args);
    } else if (*explain_cmd) {
      halconv::Shape recorded;
      const std::unique_ptr<halconv::Layer> layer =
          load_layer(explain_source, explain_args, &recorded);
      halconv::Shape shape = !explain_input.empty()   ? halconv::read_npy(explain_input).shape
                             : !explain_shape.empty() ? parse_shape(explain_shape)
                                                      : recorded;
      if (shape.empty()) {
        throw halconv::Error(halconv::ErrorKind::invalid_input,
                             explain_source.model.empty()
                                 ? "explain needs --input-shape or --input"
                                 : "the model file records no input shape for layer '" +
                                       explain_source.layer + "'; give --input-shape or --input");
      }
      if (explain_json) {
        // One decision object for a single convolution, an array for a separable layer's two.
        const std::vector<halconv::Decision> decisions = layer->decisions(shape);
        std::string text = decisions.size() == 1 ? decisions[0].to_json() : "[";
        for (size_t i = 0; decisions.size() > 1 && i < decisions.size(); i++) {
          text += (i ? "," : "") + decisions[i].to_json();
        }
        std::cout << text << (decisions.size() > 1 ? "]" : "") << "\n";
      } else {
        std::cout << layer->explain(shape);
      }
    } else if (*model_cmd) {
      list_model(model_file, model_batch, model_json, model_records, model_args);
    } else if (*variants_cmd) {
      if (variants_json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& v : halconv::list_variants()) {
          list.push_back({{"name", v.name},
                          {"backend", v.backend},
                          {"targets", v.targets},
                          {"isas", v.isas},
                          {"host_isa", v.host_isa}});
        }
        std::cout << list.dump(2) << "\n";
      } else {
        for (const auto& v : halconv::list_variants()) {
          std::cout << v.name << "  backend=" << v.backend;
          if (!v.isas.empty()) std::cout << "  isas=" << v.isas << "  runs=" << v.host_isa;
          std::cout << "  targets=" << v.targets << "\n";
        }
      }
    } else if (*devices_cmd) {
      for (const auto& d : halconv::list_devices()) {
        std::cout << halconv::device_name(d.device) << "  " << d.name << "\n";
      }
    } else {
      std::cerr << "halconv: usage error: a command is required\nRun with --help for more "
                   "information.\n";
      return 2;
    }
  } catch (const halconv::Error& e) {
    std::cerr << "halconv: error (" << halconv::error_kind_name(e.kind()) << "): " << e.what()
              << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "halconv: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "halconv: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
