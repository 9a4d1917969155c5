// Golden cases written by the real Keras 3 (scripts/make_golden.py), through the layer API with
// the selected variant, the generic variant, and the halconv CLI.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden_testing.h"
#include "halconv/halconv.h"
#include "variant_testing.h"

namespace halconv {
namespace {

namespace fs = std::filesystem;

using testing::read_text;

double golden_error(const Tensor& out, const Tensor& expected) {
  if (out.shape != expected.shape) return INFINITY;
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < out.data.size(); i++) {
    const double diff = std::abs(double(out.data[i]) - double(expected.data[i]));
    if (!(diff <= max_diff)) max_diff = diff;
    max_ref = std::max(max_ref, std::abs(double(expected.data[i])));
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

Tensor run_layer(const fs::path& dir, Device device = Device::cpu, const Options& options = {}) {
  Conv2D layer = Conv2D::from_config(read_text(dir / "config.json"));
  layer.set_device(device);
  layer.set_options(options);
  std::vector<Tensor> weights = {read_npy(dir / "kernel.npy")};
  if (fs::exists(dir / "bias.npy")) weights.push_back(read_npy(dir / "bias.npy"));
  layer.set_weights(weights);
  return layer(read_npy(dir / "input.npy"));
}

class Golden : public ::testing::TestWithParam<fs::path> {};

// On each ISA object this CPU runs.
TEST_P(Golden, LayerMatchesKeras) {
  const Tensor expected = read_npy(GetParam() / "expected.npy");
  for (Isa isa : host_isas()) {
    Options options;
    options.isa = isa;
    EXPECT_LE(golden_error(run_layer(GetParam(), Device::cpu, options), expected), 1e-4)
        << isa_name(isa);
  }
}

TEST_P(Golden, GenericVariantMatchesKeras) {
  const bool nchw =
      read_text(GetParam() / "config.json").find("channels_first") != std::string::npos;
  const Tensor out = run_layer(
      GetParam(), Device::cpu,
      forced(nchw ? "conv2d_nchw_kr_sr_dr_grouped_cpu" : "conv2d_nhwc_kr_sr_dr_grouped_cpu"));
  EXPECT_LE(golden_error(out, read_npy(GetParam() / "expected.npy")), 1e-4);
}

bool has_device(Device device) {
  for (const DeviceInfo& d : list_devices()) {
    if (d.device == device) return true;
  }
  return false;
}

TEST_P(Golden, OpenclMatchesKeras) {
  if (!has_device(Device::opencl)) GTEST_SKIP() << "no OpenCL device";
  EXPECT_LE(
      golden_error(run_layer(GetParam(), Device::opencl), read_npy(GetParam() / "expected.npy")),
      1e-4);
}

TEST_P(Golden, CudaMatchesKeras) {
  if (!has_device(Device::cuda)) GTEST_SKIP() << "no CUDA device";
  EXPECT_LE(
      golden_error(run_layer(GetParam(), Device::cuda), read_npy(GetParam() / "expected.npy")),
      1e-4);
}

TEST_P(Golden, CliMatchesKeras) {
  const fs::path dir = GetParam();
  const fs::path out =
      fs::temp_directory_path() / ("halconv_golden_" + dir.filename().string() + ".npy");
  std::string command = std::string(HALCONV_CLI) + " run --config " +
                        (dir / "config.json").string() + " --input " +
                        (dir / "input.npy").string() + " --kernel " +
                        (dir / "kernel.npy").string() + " --output " + out.string();
  if (fs::exists(dir / "bias.npy")) command += " --bias " + (dir / "bias.npy").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_LE(golden_error(read_npy(out), read_npy(dir / "expected.npy")), 1e-4);
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Keras3, Golden,
                         ::testing::ValuesIn(testing::golden_cases(HALCONV_GOLDEN_DIR)),
                         [](const auto& info) { return info.param.filename().string(); });

// Invalid runs: exit status 1 (bad input) or 2 (usage), a message, and no output file.
TEST(Cli, InvalidRunsFailCleanlyAndWriteNothing) {
  const fs::path dir = fs::path(HALCONV_GOLDEN_DIR) / "k2_nhwc";
  const fs::path tmp = fs::temp_directory_path() / "halconv_cli_invalid";
  fs::create_directories(tmp);
  const fs::path out = tmp / "out.npy";
  std::ofstream(tmp / "bad_groups.json") << R"({"filters": 4, "kernel_size": 2, "groups": 3})";
  std::ofstream(tmp / "bad_json.json") << R"({"filters": 4, "kernel_size": )";
  std::ofstream(tmp / "k3.json") << R"({"filters": 4, "kernel_size": 3, "use_bias": false})";
  std::ofstream(tmp / "not.npy") << "hello";
  const std::string cli = HALCONV_CLI;
  const std::string cfg = (dir / "config.json").string(), in = (dir / "input.npy").string(),
                    k = (dir / "kernel.npy").string(), b = (dir / "bias.npy").string();
  struct Case {
    std::string args;
    int status;
  };
  const std::vector<Case> cases = {
      {"run --config " + (tmp / "bad_groups.json").string() + " --input " + in + " --kernel " + k,
       1},
      {"run --config " + (tmp / "bad_json.json").string() + " --input " + in + " --kernel " + k, 1},
      {"run --config " + (tmp / "k3.json").string() + " --input " + in + " --kernel " + k, 1},
      {"run --config " + cfg + " --input " + (tmp / "not.npy").string() + " --kernel " + k +
           " --bias " + b,
       1},
      {"run --config " + cfg + " --input " + in + " --kernel " + in + " --bias " + b, 1},
      {"run --config " + cfg + " --input " + in + " --kernel " + k, 1},  // bias missing
      {"run --config " + cfg + " --input " + in + " --kernel " + k + " --bias " + k, 1},
      {"run --config " + cfg + " --input /no/such/file.npy --kernel " + k + " --bias " + b, 1},
      {"run --config " + cfg + " --kernel " + k, 2},
      {"run --config " + cfg + " --input " + in + " --kernel " + k + " --bias " + b +
           " --device tpu",
       1},
      {"frobnicate", 2},
  };
  for (const Case& c : cases) {
    fs::remove(out);
    const std::string command =
        cli + " " + c.args + " --output " + out.string() + " 2>" + (tmp / "err.txt").string();
    const int raw = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(raw)) << command;
    EXPECT_EQ(WEXITSTATUS(raw), c.status) << command;
    EXPECT_FALSE(fs::exists(out)) << command;
    EXPECT_NE(read_text(tmp / "err.txt").find("rror"), std::string::npos) << command;
  }
  if (!has_device(Device::cuda)) {
    fs::remove(out);
    const std::string command = cli + " run --config " + cfg + " --input " + in + " --kernel " + k +
                                " --bias " + b + " --device cuda --output " + out.string() + " 2>" +
                                (tmp / "err.txt").string();
    const int raw = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 1) << command;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_NE(read_text(tmp / "err.txt").find("device cuda is not available"), std::string::npos);
  }
  for (const auto& entry : fs::directory_iterator(tmp)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace halconv
