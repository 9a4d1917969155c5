// The halconv command-line program: run a Keras Conv2D config on .npy files, explain the variant
// choice, list the compiled variants. Exit codes: 0 ok, 1 bad input or run-time failure, 2 usage.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "halconv/halconv.h"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw halconv::Error("cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

halconv::Conv2DConfig load_config(const std::string& path, bool keras2_hard_sigmoid) {
  halconv::Conv2DConfig config = halconv::parse_config_json(read_text(path));
  config.keras2_hard_sigmoid = keras2_hard_sigmoid;
  return config;
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
      throw halconv::Error("--input-shape: '" + item + "' in '" + text + "' is not an integer");
    }
    shape.push_back(value);
  }
  return shape;
}

struct RunArgs {
  std::string config, input, kernel, bias, output, device = "auto";
  bool keras2_hard_sigmoid = false;
};

void run(const RunArgs& args) {
  const halconv::Device device = halconv::parse_device(args.device);
  const halconv::Conv2DConfig config = load_config(args.config, args.keras2_hard_sigmoid);
  const halconv::Tensor input = halconv::read_npy(args.input);
  const halconv::Tensor kernel = halconv::read_npy(args.kernel);
  const halconv::Problem problem = halconv::make_problem(config, input.shape);
  if (kernel.shape != problem.kernel_shape()) {
    throw halconv::Error("kernel shape " + halconv::shape_to_string(kernel.shape) +
                         " does not match the config and input: expected " +
                         halconv::shape_to_string(problem.kernel_shape()));
  }
  halconv::Tensor bias;
  if (config.use_bias) {
    if (args.bias.empty()) throw halconv::Error("use_bias is true, so --bias is required");
    bias = halconv::read_npy(args.bias);
    if (bias.shape != halconv::Shape{problem.filters}) {
      throw halconv::Error("bias shape " + halconv::shape_to_string(bias.shape) +
                           " does not match filters: expected (" + std::to_string(problem.filters) +
                           ",)");
    }
  } else if (!args.bias.empty()) {
    throw halconv::Error("--bias was given but the config has use_bias false");
  }
  const halconv::Plan plan(problem, kernel.data.data(),
                           config.use_bias ? bias.data.data() : nullptr, device);
  halconv::Tensor output(problem.output_shape());
  std::vector<float> workspace(plan.workspace_floats());
  plan.run(input.data.data(), output.data.data(), workspace.empty() ? nullptr : workspace.data());
  halconv::write_npy(args.output, output);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halconv: Keras Conv2D forward pass from Halide-generated kernels"};
  app.require_subcommand(1);

  RunArgs run_args;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a Conv2D config on .npy tensors");
  run_cmd->add_option("--config", run_args.config, "Keras Conv2D get_config() JSON")->required();
  run_cmd->add_option("--input", run_args.input, "input .npy in the config's data_format")
      ->required();
  run_cmd->add_option("--kernel", run_args.kernel, "kernel .npy, (kh, kw, in/groups, filters)")
      ->required();
  run_cmd->add_option("--bias", run_args.bias, "bias .npy, (filters,); needed when use_bias");
  run_cmd->add_option("--output", run_args.output, "output .npy (float32)")->required();
  run_cmd
      ->add_option("--device", run_args.device,
                   "auto (CUDA if present, else CPU), cpu, cuda, opencl")
      ->capture_default_str();
  run_cmd->add_flag("--keras2-hard-sigmoid", run_args.keras2_hard_sigmoid,
                    "hard_sigmoid as Keras 2 defines it: clip(0.2x + 0.5, 0, 1)");

  std::string explain_config, explain_shape, explain_device = "auto";
  bool explain_keras2 = false;
  CLI::App* explain_cmd =
      app.add_subcommand("explain", "Show which variant runs a problem and why others declined");
  explain_cmd->add_option("--config", explain_config, "Keras Conv2D get_config() JSON")->required();
  explain_cmd->add_option("--input-shape", explain_shape, "N,H,W,C or N,C,H,W")->required();
  explain_cmd->add_flag("--keras2-hard-sigmoid", explain_keras2, "Keras 2 hard_sigmoid");
  explain_cmd->add_option("--device", explain_device, "auto, cpu, cuda, opencl")
      ->capture_default_str();

  CLI::App* variants_cmd = app.add_subcommand("variants", "List the compiled variants");
  CLI::App* devices_cmd = app.add_subcommand("devices", "List the devices found");
  app.add_subcommand("bench", "Benchmark against oneDNN (runs halconv_bench; --help there)")
      ->prefix_command();

  // `halconv bench ARGS` is halconv_bench ARGS, the program beside this one (it links oneDNN,
  // which the CLI itself does not need).
  if (argc >= 2 && std::string(argv[1]) == "bench") {
    const std::string self = std::filesystem::canonical("/proc/self/exe").string();
    const std::string bench = self.substr(0, self.rfind('/') + 1) + "halconv_bench";
    std::vector<char*> args = {const_cast<char*>(bench.c_str())};
    for (int i = 2; i < argc; i++) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(bench.c_str(), args.data());
    std::cerr << "halconv: error: cannot run " << bench << ": " << std::strerror(errno) << "\n";
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
    if (*run_cmd) {
      run(run_args);
    } else if (*explain_cmd) {
      const halconv::Problem problem = halconv::make_problem(
          load_config(explain_config, explain_keras2), parse_shape(explain_shape));
      std::cout << halconv::explain(problem, halconv::parse_device(explain_device));
    } else if (*variants_cmd) {
      for (const auto& v : halconv::list_variants()) {
        std::cout << v.name << "  backend=" << v.backend << "  targets=" << v.targets << "\n";
      }
    } else if (*devices_cmd) {
      for (const auto& d : halconv::list_devices()) {
        std::cout << halconv::device_name(d.device) << "  " << d.name << "\n";
      }
    }
  } catch (const halconv::Error& e) {
    std::cerr << "halconv: error: " << e.what() << "\n";
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
