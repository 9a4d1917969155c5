// The halconv command-line program: run a Keras conv layer's config (Conv2D, DepthwiseConv2D,
// SeparableConv2D) on .npy files, explain the variant choice, list the compiled variants. A thin
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

struct RunArgs {
  std::string config, input, output;
  // A weight file per weight name a layer class lists (Layer::weight_names()), by flag.
  std::string kernel, depthwise_kernel, pointwise_kernel, bias;
  bool keras2_hard_sigmoid = false, time = false;
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

// The layer of a config file (Conv2D, DepthwiseConv2D or SeparableConv2D, by its class_name),
// with the CLI's options and device.
std::unique_ptr<halconv::Layer> load_layer(const std::string& path, bool keras2_hard_sigmoid,
                                           const DecisionArgs& args) {
  std::unique_ptr<halconv::Layer> layer =
      halconv::layer_from_config(read_text(path), keras2_hard_sigmoid);
  layer->set_device(halconv::parse_device(args.device));
  layer->set_options(args.options());
  return layer;
}

void run(const RunArgs& args) {
  std::unique_ptr<halconv::Layer> layer =
      load_layer(args.config, args.keras2_hard_sigmoid, args.decision);
  const std::vector<std::string> names = layer->weight_names();
  // Missing weights first (the likelier mistake), then flags this class has no weight for.
  for (bool missing : {true, false}) {
    for (const auto& [name, file] : args.weight_flags()) {
      const bool needed = std::find(names.begin(), names.end(), name) != names.end();
      if (missing && needed && file->empty()) {
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
  std::vector<halconv::Tensor> weights;
  for (const std::string& name : names) {
    for (const auto& [flag_name, file] : args.weight_flags()) {
      if (flag_name == name) weights.push_back(halconv::read_npy(*file));
    }
  }
  layer->set_weights(weights);
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
  CLI::App* run_cmd = app.add_subcommand("run", "Run a conv layer config on .npy tensors");
  run_cmd
      ->add_option("--config", run_args.config,
                   "Keras get_config() JSON of a Conv2D, DepthwiseConv2D or SeparableConv2D")
      ->required();
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
  run_cmd->add_flag("--keras2-hard-sigmoid", run_args.keras2_hard_sigmoid,
                    "hard_sigmoid as Keras 2 defines it: clip(0.2x + 0.5, 0, 1)");
  run_cmd->add_flag("--time", run_args.time, "print the call's time too");
  run_args.decision.add_to(run_cmd);

  std::string explain_config, explain_shape, explain_input;
  bool explain_keras2 = false, explain_json = false;
  DecisionArgs explain_args;
  CLI::App* explain_cmd =
      app.add_subcommand("explain",
                         "Show how a problem runs: variant, object, packing, and why "
                         "better variants declined");
  explain_cmd->add_option("--config", explain_config, "Keras layer get_config() JSON")->required();
  auto* shape_opt = explain_cmd->add_option("--input-shape", explain_shape, "N,H,W,C or N,C,H,W");
  auto* input_opt = explain_cmd->add_option("--input", explain_input, "an input .npy (its shape)");
  shape_opt->excludes(input_opt);
  explain_cmd->add_flag("--keras2-hard-sigmoid", explain_keras2, "Keras 2 hard_sigmoid");
  explain_cmd->add_flag("--json", explain_json, "the decision as one JSON object");
  explain_args.add_to(explain_cmd);

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
      if (explain_shape.empty() && explain_input.empty()) {
        throw halconv::Error(halconv::ErrorKind::invalid_input,
                             "explain needs --input-shape or --input");
      }
      const halconv::Shape shape = explain_input.empty() ? parse_shape(explain_shape)
                                                         : halconv::read_npy(explain_input).shape;
      const std::unique_ptr<halconv::Layer> layer =
          load_layer(explain_config, explain_keras2, explain_args);
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
