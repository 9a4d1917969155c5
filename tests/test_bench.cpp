// The benchmark tool's records (not its speed): every field the report needs, from a real run of
// halconv and oneDNN side by side on a tiny suite, in both layouts and at two thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;

namespace {

nlohmann::json run_bench(const std::string& data_format) {
  const fs::path dir = fs::temp_directory_path() / "halconv_bench_records";
  fs::create_directories(dir);
  const fs::path suite = dir / "suite.txt", records = dir / (data_format + ".json");
  std::ofstream(suite) << "# name N H W C filters k stride dilation groups padding\n"
                          "odd_3x3 1 9 11 5 7 3 1 1 1 same\n"
                          "odd_1x1_s2 1 13 7 6 9 1 2 1 1 valid\n";
  const std::string command = std::string(HALCONV_BENCH) + " --suite " + suite.string() +
                              " --data-format " + data_format + " --threads 1,2 --json " +
                              records.string() + " > " + (dir / "log.txt").string();
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(records);
  return nlohmann::json::parse(in);
}

bool starts_with(const nlohmann::json& text, const std::string& prefix) {
  return text.get<std::string>().rfind(prefix, 0) == 0;
}

void expect_side_by_side_records(const nlohmann::json& records, const std::string& layout) {
  const bool with_nhwc_twin = layout == "nchw";
  ASSERT_EQ(records.size(), 4u);  // 2 shapes x 2 thread counts
  for (const auto& r : records) {
    SCOPED_TRACE(r.dump());
    EXPECT_TRUE(r["name"] == "odd_3x3" || r["name"] == "odd_1x1_s2");
    EXPECT_TRUE(r["threads"] == 1 || r["threads"] == 2);
    EXPECT_TRUE(starts_with(r["variant"], "conv2d_" + layout + "_"));
    for (const char* positive :
         {"halconv_ms", "onednn_ms", "gflops", "pct_peak", "peak_gflops", "peak_gflops_after"}) {
      EXPECT_GT(r[positive].get<double>(), 0.0) << positive;
    }
    EXPECT_NEAR(r["ratio"].get<double>(),
                r["onednn_ms"].get<double>() / r["halconv_ms"].get<double>(), 1e-9);
    EXPECT_EQ(r.contains("nhwc_halconv_ms"), with_nhwc_twin);
    if (with_nhwc_twin) {
      EXPECT_GT(r["nhwc_halconv_ms"].get<double>(), 0.0);
      EXPECT_TRUE(starts_with(r["nhwc_variant"], "conv2d_nhwc_"));
    }
  }
}

}  // namespace

TEST(BenchTool, WritesSideBySideRecordsForNhwc) {
  expect_side_by_side_records(run_bench("channels_last"), "nhwc");
}

// channels_first records carry the channels_last twin timed in the same rounds.
TEST(BenchTool, WritesSideBySideRecordsWithNhwcTwinForNchw) {
  expect_side_by_side_records(run_bench("channels_first"), "nchw");
}
