// halconv_bench: times halconv on a shape suite (bench/*.txt) on one device, through Plan::run on
// reused host buffers, median and min of repeated runs after a warm-up.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "halconv/halconv.h"
#include "reference.h"

namespace {

struct Shape {
  std::string name;
  halconv::Conv2DConfig config;
  halconv::Shape input;
};

std::vector<Shape> read_suite(const std::string& path, const std::string& layout) {
  std::ifstream in(path);
  if (!in) throw halconv::Error("cannot open suite '" + path + "'");
  std::vector<Shape> suite;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Shape s;
    int64_t n, h, w, c, k, stride, dilation;
    std::string padding;
    if (!(fields >> s.name >> n >> h >> w >> c >> s.config.filters >> k >> stride >> dilation >>
          s.config.groups >> padding)) {
      throw halconv::Error("malformed suite line: " + line);
    }
    s.config.kernel_size = k;
    s.config.strides = stride;
    s.config.dilation_rate = dilation;
    s.config.padding = halconv::parse_padding(padding);
    s.config.data_format = halconv::parse_data_format(layout);
    s.input = s.config.data_format == halconv::DataFormat::channels_last
                  ? halconv::Shape{n, h, w, c}
                  : halconv::Shape{n, c, h, w};
    suite.push_back(s);
  }
  return suite;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halconv_bench: time halconv on a shape suite"};
  std::string suite_path = "bench/anchors.txt", device_name = "cpu", layout = "channels_last";
  int repeats = 20;
  app.add_option("--suite", suite_path, "shape suite file")->capture_default_str();
  app.add_option("--device", device_name, "cpu, cuda or opencl")->capture_default_str();
  app.add_option("--data-format", layout, "channels_last or channels_first")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs per shape")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const halconv::Device device = halconv::parse_device(device_name);
    std::printf("%-20s %-32s %10s %10s %9s\n", "shape", "variant", "median_ms", "min_ms",
                "GFLOP/s");
    for (const Shape& s : read_suite(suite_path, layout)) {
      const halconv::Problem p = halconv::make_problem(s.config, s.input);
      const auto input = halconv::testing::random_values(halconv::Tensor(s.input).data.size(), 1);
      const auto kernel =
          halconv::testing::random_values(halconv::Tensor(p.kernel_shape()).data.size(), 2);
      const auto bias = halconv::testing::random_values(static_cast<size_t>(p.filters), 3);
      const halconv::Plan plan(p, kernel.data(), bias.data(), device);
      std::vector<float> output(static_cast<size_t>(p.output_elements()));
      plan.run(input.data(), output.data());  // warm-up: device copies, page faults
      std::vector<double> ms;
      for (int i = 0; i < repeats; i++) {
        const auto t0 = std::chrono::steady_clock::now();
        plan.run(input.data(), output.data());
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
      }
      std::sort(ms.begin(), ms.end());
      const double gflop = 2.0 * p.batch * p.out_h * p.out_w * p.filters * (p.in_c / p.groups) *
                           p.kernel_h * p.kernel_w / 1e9;
      const double median = ms[ms.size() / 2];
      std::printf("%-20s %-32s %10.3f %10.3f %9.1f\n", s.name.c_str(), plan.variant().c_str(),
                  median, ms.front(), gflop / median * 1e3);
    }
  } catch (const halconv::Error& e) {
    std::cerr << "halconv_bench: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
