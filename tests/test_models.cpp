// Keras model files (halconv::KerasModel, `halconv model`, `halconv run --model`): the small
// models scripts/make_model_fixtures.py wrote with Keras 3 (.keras and .h5) and Keras 2 (.h5),
// each conv layer against Keras' own output on that layer's real input in the model, on every
// ISA; and the broken files under tests/models/bad.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "golden_testing.h"
#include "halconv/halconv.h"
#include "variant_testing.h"

namespace halconv {
namespace {

namespace fs = std::filesystem;
using testing::read_text;

const fs::path kModels = HALCONV_MODELS_DIR;

// A model file and the folder of its layers' goldens.
struct ModelCase {
  std::string file, goldens, keras_version_prefix;
};

std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> cases = {{"tiny.keras", "tiny.layers", "3."},
                                  {"tiny.h5", "tiny.layers", "3."}};
  if (fs::exists(kModels / "tiny_keras2.h5")) {
    cases.push_back({"tiny_keras2.h5", "tiny_keras2.layers", "2."});
  }
  return cases;
}

std::string stem_of(std::string name) {
  for (size_t at = name.find('/'); at != std::string::npos; at = name.find('/')) {
    name.replace(at, 1, "__");
  }
  return name;
}

double error_against(const Tensor& out, const Tensor& expected) {
  if (out.shape != expected.shape) return INFINITY;
  return relative_error(out.data, std::vector<double>(expected.data.begin(), expected.data.end()));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.file; }

class ModelFile : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelFile, ListsEveryConvLayerWithItsClassAndShape) {
  const ModelCase& c = GetParam();
  const KerasModel model = KerasModel::load((kModels / c.file).string());
  EXPECT_EQ(model.format(), c.file.substr(c.file.rfind('.') + 1));
  EXPECT_EQ(model.keras_version().rfind(c.keras_version_prefix, 0), 0u) << model.keras_version();
  const nlohmann::json listing =
      nlohmann::json::parse(read_text(kModels / c.goldens / "layers.json"));
  ASSERT_EQ(model.layers().size(), listing.size());
  for (size_t i = 0; i < listing.size(); i++) {
    const ModelLayer& layer = model.layers()[i];
    EXPECT_EQ(layer.name, listing[i]["name"].get<std::string>());
    EXPECT_EQ(layer.class_name, listing[i]["class_name"].get<std::string>());
    EXPECT_EQ(layer_class_name(layer.config), layer.class_name);
    // Where the file records a shape it is the layer's real input's, batch unset.
    const Tensor input = read_npy(kModels / c.goldens / (stem_of(layer.name) + ".input.npy"));
    if (!layer.input_shape.empty()) {
      Shape expected = input.shape;
      expected[0] = -1;
      EXPECT_EQ(layer.input_shape, expected) << layer.name;
    }
  }
  // Keras 3 .keras files record every layer's input shape.
  if (model.format() == "keras") {
    for (const ModelLayer& layer : model.layers()) EXPECT_FALSE(layer.input_shape.empty());
  }
}

TEST_P(ModelFile, EveryLayerMatchesKerasOnItsRealInputOnEveryIsa) {
  const ModelCase& c = GetParam();
  const KerasModel model = KerasModel::load((kModels / c.file).string());
  for (const ModelLayer& info : model.layers()) {
    const Tensor input = read_npy(kModels / c.goldens / (stem_of(info.name) + ".input.npy"));
    const Tensor expected = read_npy(kModels / c.goldens / (stem_of(info.name) + ".output.npy"));
    for (Isa isa : host_isas()) {
      std::unique_ptr<Layer> layer = model.layer(info.name);
      Options options;
      options.isa = isa;
      layer->set_options(options);
      EXPECT_LE(error_against((*layer)(input), expected), kTolerance)
          << c.file << " " << info.name << " on " << isa_name(isa);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Keras, ModelFile, ::testing::ValuesIn(model_cases()),
                         [](const auto& info) {
                           std::string name = info.param.file;
                           for (char& ch : name) ch = std::isalnum(ch) ? ch : '_';
                           return name;
                         });

TEST(KerasModel, FindsLayersByNameOrUniqueLastPart) {
  const KerasModel model = KerasModel::load((kModels / "tiny.keras").string());
  EXPECT_EQ(&model.find("sep"), &model.find("inner/sep"));
  EXPECT_EQ(model.layer("inner/sep")->class_name(), "SeparableConv2D");
  const std::string missing = error_of([&] { model.find("nope"); });
  EXPECT_NE(missing.find("no conv layer is named 'nope'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("inner/c2"), std::string::npos) << missing;
  EXPECT_NE(error_of([&] { model.find("bn"); }).find("'bn'"), std::string::npos);
}

// halconv_add_keras_model's records: the chosen built-in variant's record, run-time values fixed
// to the layer's, one per distinct record, in selection order.
TEST(KerasModel, SpecializedRecordsFixTheLayersValuesInSelectionOrder) {
  const KerasModel model = KerasModel::load((kModels / "tiny.keras").string());
  std::vector<std::string> order;  // built-in keys in selection order
  for (const VariantDescription& v : list_variants()) order.push_back(v.name);
  size_t last_rank = 0;
  bool saw_dw = false;
  for (const std::string& text : model.specialized_records()) {
    const nlohmann::json r = nlohmann::json::parse(text);
    const std::string builtin = "conv2d_" + r["specializes"].get<std::string>() + "_cpu";
    const size_t rank = std::find(order.begin(), order.end(), builtin) - order.begin();
    ASSERT_LT(rank, order.size()) << text;
    EXPECT_GE(rank, last_rank) << text;
    last_rank = rank;
    // dw runs on the any-kernel narrow-groups variant: its kernel and stride become fixed.
    if (r["reason"].get<std::string>().find("dw,") != std::string::npos ||
        r["reason"].get<std::string>() == "tiny.keras: dw") {
      saw_dw = true;
      EXPECT_EQ(r["groups"], "narrow") << text;
      EXPECT_EQ(r["kernel"], 3) << text;
      EXPECT_EQ(r["stride"], 2) << text;
      EXPECT_EQ(r["dilation"], 1) << text;
    }
  }
  EXPECT_TRUE(saw_dw);
}

TEST(KerasModel, BadFilesNameTheFileTheLayerAndTheValue) {
  struct Case {
    std::string file;
    std::vector<std::string> messages;
  };
  const fs::path bad = kModels / "bad";
  const std::vector<Case> cases = {
      {"truncated.keras", {"not a readable zip archive"}},
      {"corrupt.keras", {"model.weights.h5", "corrupt"}},
      {"truncated.h5", {"not a readable HDF5 file"}},
      {"weights_only.h5", {"without a model_config"}},
      {"not_a_model.keras", {"neither a .keras archive"}},
      {"config_not_json.keras", {"config.json is not valid JSON"}},
      {"mixed_precision.keras", {"layer 'c1' (Conv2D)", "'mixed_float16'"}},
      {"missing_weight.keras", {"layer 'c1' (Conv2D)", "vars/1"}},
      {"misshaped_weight.keras", {"layer 'dw' (DepthwiseConv2D)", "(3, 3, 8, 3)"}},
      {"no_such_file.keras", {"cannot open it"}},
  };
  for (const Case& c : cases) {
    const std::string path = (bad / c.file).string();
    const std::string message = error_of([&] { KerasModel::load(path); });
    EXPECT_EQ(message.rfind(path, 0), 0u) << message;
    for (const std::string& part : c.messages) {
      EXPECT_NE(message.find(part), std::string::npos) << c.file << ": " << message;
    }
  }
}

// Runs the CLI; returns its exit status and puts its stdout and stderr into `output`.
int run_cli(const std::string& args, std::string* output) {
  // ctest runs tests in parallel processes: each call gets a file of its own.
  static int calls = 0;
  const fs::path text =
      fs::temp_directory_path() /
      ("halconv_models_cli_" + std::to_string(::getpid()) + "_" + std::to_string(calls++) + ".txt");
  const int raw =
      std::system((std::string(HALCONV_CLI) + " " + args + " >" + text.string() + " 2>&1").c_str());
  *output = read_text(text);
  fs::remove(text);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

TEST(Cli, ModelListsLayersShapesAndVariants) {
  std::string out;
  ASSERT_EQ(run_cli("model " + (kModels / "tiny.keras").string(), &out), 0) << out;
  EXPECT_NE(out.find("6 conv layers"), std::string::npos) << out;
  EXPECT_NE(out.find("inner/sep  SeparableConv2D  (1, 6, 5, 16) -> (1, 6, 5, 6)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(" then "), std::string::npos) << out;
  ASSERT_EQ(run_cli("model --json --batch 4 " + (kModels / "tiny.h5").string(), &out), 0) << out;
  const nlohmann::json list = nlohmann::json::parse(out);
  ASSERT_EQ(list.size(), 6u);
  EXPECT_EQ(list[0]["output_shape"], nlohmann::json({4, 13, 12, 8}));
  EXPECT_EQ(list[2]["decisions"].size(), 2u);  // inner/sep: depthwise then pointwise
}

TEST(Cli, RunsOneLayerOfAModel) {
  const fs::path out = fs::temp_directory_path() / "halconv_models_run.npy";
  const fs::path goldens = kModels / "tiny.layers";
  for (const std::string file : {"tiny.keras", "tiny.h5"}) {
    for (const std::string layer : {"c1", "inner/sep", "dw5"}) {
      fs::remove(out);
      std::string text;
      ASSERT_EQ(run_cli("run --model " + (kModels / file).string() + " --layer " + layer +
                            " --input " + (goldens / (stem_of(layer) + ".input.npy")).string() +
                            " --output " + out.string(),
                        &text),
                0)
          << text;
      EXPECT_LE(error_against(read_npy(out), read_npy(goldens / (stem_of(layer) + ".output.npy"))),
                kTolerance)
          << file << " " << layer;
    }
  }
  std::string text;
  ASSERT_EQ(run_cli("explain --model " + (kModels / "tiny.keras").string() + " --layer dw", &text),
            0)
      << text;
  EXPECT_NE(text.find("problem: mb1_13x12x8_k3x3_s2x2"), std::string::npos) << text;
  fs::remove(out);
}

TEST(Cli, BadModelRunsFailCleanly) {
  const fs::path out = fs::temp_directory_path() / "halconv_models_bad.npy";
  const std::string model = (kModels / "tiny.keras").string();
  const std::string input = (kModels / "tiny.layers" / "c1.input.npy").string();
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--model " + model + " --layer nope", "no conv layer is named 'nope'"},
      {"--model " + model, "--model needs --layer"},
      {"--model " + model + " --layer c1 --kernel " + input, "--kernel was given with --model"},
      {"--model " + (kModels / "bad" / "corrupt.keras").string() + " --layer c1", "corrupt"},
      {"--model " + (kModels / "bad" / "misshaped_weight.keras").string() + " --layer c1",
       "layer 'dw'"},
      {"--model " + model + " --layer dw", "the layer was built for 8"},  // c1's input
  };
  for (const Case& c : cases) {
    fs::remove(out);
    std::string text;
    EXPECT_EQ(run_cli("run " + c.args + " --input " + input + " --output " + out.string(), &text),
              1)
        << c.args;
    EXPECT_FALSE(fs::exists(out)) << c.args;
    EXPECT_NE(text.find(c.message), std::string::npos) << c.args << ": " << text;
  }
}

}  // namespace
}  // namespace halconv
