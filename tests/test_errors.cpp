// Every error kind Keras checks (and a few it does not), each with the offending value named.
#include <gtest/gtest.h>

#include "halconv/halconv.h"

namespace halconv {
namespace {

// Expects an Error whose message contains `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Expects an Error of `kind` whose message contains `needle`.
template <typename F>
void expect_error_kind(F&& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one of kind " << static_cast<int>(kind) << " mentioning '"
                  << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << "kind " << static_cast<int>(e.kind()) << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

Conv2DConfig base() {
  Conv2DConfig c;
  c.filters = 8;
  c.kernel_size = 3;
  return c;
}

TEST(Errors, NonPositiveArguments) {
  auto with = [](auto edit) {
    Conv2DConfig c = base();
    edit(c);
    return c;
  };
  expect_error([&] { validate_config(with([](auto& c) { c.filters = 0; })); }, "filters");
  expect_error([&] { validate_config(with([](auto& c) { c.groups = -1; })); }, "groups");
  expect_error([&] { validate_config(with([](auto& c) { c.kernel_size = Pair(3, 0); })); },
               "kernel_size[1] must be a positive integer, got 0");
  expect_error([&] { validate_config(with([](auto& c) { c.strides = Pair(-2, 1); })); },
               "strides[0] must be a positive integer, got -2");
  expect_error([&] { validate_config(with([](auto& c) { c.dilation_rate = 0; })); },
               "dilation_rate[0]");
  expect_error([&] { validate_config(with([](auto& c) { c.strides = int64_t{1} << 40; })); },
               "1099511627776");
}

TEST(Errors, Divisibility) {
  Conv2DConfig c = base();
  c.groups = 3;
  expect_error([&] { validate_config(c); }, "filters (8) must be divisible by groups (3)");
  c.groups = 4;
  expect_error(
      [&] {
        make_problem(c, {1, 5, 5, 6});
      },
      "input channels (6) must be divisible by groups (4)");
}

TEST(Errors, UnknownNames) {
  expect_error([] { Conv2D(8, 3, 1, "causal"); }, "unknown padding 'causal'");
  expect_error([] { Conv2D(8, 3, 1, "valid", "channels_middle"); },
               "unknown data_format 'channels_middle'");
  Conv2DConfig c = base();
  c.activation = "relu7";
  expect_error([&] { validate_config(c); }, "unknown activation 'relu7'; valid names are: linear");
  c.activation = "softmax";
  c.kernel_initializer = Initializer("orthogonal_ish");
  Conv2D layer(c);
  expect_error([&] { layer.build({1, 5, 5, 2}); }, "unknown initializer 'orthogonal_ish'");
}

TEST(Errors, InputShapes) {
  expect_error([] { make_problem(base(), {5, 5, 2}); }, "rank 4, got rank 3");
  expect_error([] { make_problem(base(), {1, 0, 5, 2}); }, "non-positive dimension 0");
  expect_error([] { make_problem(base(), {1, 2, 5, 2}); }, "non-positive output size (0, 3)");
  Conv2DConfig glu = base();
  glu.filters = 7;
  glu.activation = "glu";
  expect_error([&] { make_problem(glu, {1, 5, 5, 2}); }, "it is 7 (filters)");
}

TEST(Errors, OverflowingShapes) {
  expect_error([] { make_problem(base(), {1 << 20, 1 << 20, 1 << 20, 1 << 20}); }, "too large");
  Conv2DConfig c = base();
  c.filters = 1 << 20;
  c.padding = Padding::same;
  expect_error([&] { make_problem(c, {64, 64, 64, 1}); }, "output shape");
  // A 4-million-column axis at stride 3000000 has 2 outputs; a tile past them reaches 2^31.
  Conv2DConfig wide = base();
  wide.kernel_size = 1;
  wide.strides = Pair(1, 3000000);
  expect_error(
      [&] {
        make_problem(wide, {1, 1, 4000000, 1});
      },
      "strides[1] 3000000 with 2 outputs on that axis");
  // One output: the stride is never applied, so any stride is fine.
  wide.strides = Pair(1, 2147483647);
  EXPECT_EQ(make_problem(wide, {1, 1, 4000000, 1}).out_w, 1);
}

TEST(Errors, WeightShapes) {
  Conv2D layer(8, 3);
  expect_error([&] { layer.set_weights({Tensor({3, 3, 2, 8})}); }, "expects 2 arrays");
  expect_error(
      [&] {
        layer.set_weights({Tensor({3, 2, 2, 8}), Tensor({8})});
      },
      "kernel shape (3, 2, 2, 8) does not match");
  expect_error(
      [&] {
        layer.set_weights({Tensor({3, 3, 2, 8}), Tensor({7})});
      },
      "bias shape (7,) does not match filters 8");
  layer.set_weights({Tensor({3, 3, 2, 8}), Tensor({8})});
  expect_error([&] { layer(Tensor({1, 5, 5, 3})); }, "has 3 channels; the layer was built for 2");
}

TEST(Errors, ConfigJson) {
  expect_error([] { parse_config_json("{\"filters\": 8"); }, "not valid JSON");
  expect_error([] { parse_config_json("[1, 2]"); }, "must be a JSON object");
  expect_error([] { parse_config_json(std::string(100000, '[') + std::string(100000, ']')); },
               "nests deeper than 32");
  expect_error(
      [] { parse_config_json(R"({"filters": 8, "kernel_size": 3, "strides": 1000000000000})"); },
      "strides[0] 1000000000000 exceeds");
  expect_error([] { parse_config_json(R"({"filters": 1099511627776, "kernel_size": 3})"); },
               "filters 1099511627776 exceeds");
  expect_error([] { parse_config_json(R"({"filters": 8, "kernel_size": 3, "use_bias": "true"})"); },
               "'use_bias' must be true or false");
  expect_error([] { parse_config_json(R"({"filters": 8, "kernel_size": 3, "activation": 5})"); },
               "'activation' must be a string");
  expect_error([] { parse_config_json(R"({"kernel_size": 3})"); }, "lacks the key 'filters'");
  expect_error([] { parse_config_json(R"({"filters": "8", "kernel_size": 3})"); },
               "'filters' must be an integer, got \"8\"");
  expect_error([] { parse_config_json(R"({"filters": 8.0, "kernel_size": 3})"); },
               "'filters' must be an integer, got 8.0");
  expect_error([] { parse_config_json(R"({"filters": 8, "kernel_size": [3, 3, 3]})"); },
               "'kernel_size' must be an int or a list of 2 ints, got [3,3,3]");
  expect_error([] { parse_config_json(R"({"filters": 8, "kernel_size": 3, "use_bias": 1})"); },
               "'use_bias' must be true or false");
  expect_error([] { parse_config_json(R"({"filters": 8, "kernel_size": 3, "strides": [1]})"); },
               "'strides'");
  expect_error([] { parse_config_json(R"({"class_name": "Dense", "config": {"filters": 8}})"); },
               "class_name 'Dense' is not a layer halconv runs");
  expect_error([] { parse_config_json(R"({"filters": 8, "kernel_size": 3, "padding": 1})"); },
               "'padding' must be a string");
}

TEST(Errors, NpyFiles) {
  expect_error([] { parse_npy("not numpy at all", "x"); }, "bad magic");
  const std::string magic = std::string("\x93NUMPY", 6);
  expect_error([] { parse_npy(std::string("\x93NUMPY\x07\x00\x10\x00", 10), "x"); },
               "unsupported .npy version 7");
  auto v1 = [&](const std::string& header, const std::string& data) {
    std::string h = header;
    return magic + std::string("\x01\x00", 2) + char(h.size() & 0xff) + char(h.size() >> 8) + h +
           data;
  };
  expect_error(
      [&] {
        parse_npy(
            v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", std::string(4, '\0')),
            "x");
      },
      "needs 8 data bytes, the file has 4");
  expect_error(
      [&] {
        parse_npy(
            v1("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
            "x");
      },
      "unsupported dtype '<c8'");
  expect_error(
      [&] {
        parse_npy(
            v1("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
            "x");
      },
      "unsupported dtype");
  expect_error(
      [&] { parse_npy(v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", ""), "x"); },
      "negative dimension");
  expect_error(
      [&] {
        parse_npy(
            v1("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""),
            "x");
      },
      "overflows");
  expect_error([&] { parse_npy(v1("{'descr': '<f4', 'shape': (1,), }", ""), "x"); },
               "lacks descr, fortran_order or shape");
  expect_error([&] { parse_npy(magic + std::string("\x01\x00\xff\x00", 4) + "{'de", "x"); },
               "truncated");
}

TEST(ErrorKinds, InvalidConfig) {
  Conv2DConfig c = base();
  c.filters = 0;
  expect_error_kind([&] { validate_config(c); }, ErrorKind::invalid_config,
                    "filters must be a positive integer, got 0");
  c = base();
  c.groups = 3;
  expect_error_kind([&] { validate_config(c); }, ErrorKind::invalid_config,
                    "filters (8) must be divisible by groups (3)");
  expect_error_kind([] { Conv2D(8, 3, 1, "causal"); }, ErrorKind::invalid_config,
                    "unknown padding 'causal'");
  expect_error_kind([] { Conv2D(8, 3, 1, "valid", "channels_middle"); }, ErrorKind::invalid_config,
                    "unknown data_format 'channels_middle'");
  c = base();
  c.activation = "relu7";
  expect_error_kind([&] { validate_config(c); }, ErrorKind::invalid_config,
                    "unknown activation 'relu7'");
  c = base();
  c.kernel_initializer = Initializer("orthogonal_ish");
  Conv2D layer(c);
  expect_error_kind(
      [&] {
        layer.build({1, 5, 5, 2});
      },
      ErrorKind::invalid_config, "unknown initializer 'orthogonal_ish'");
  // channels_last: glu halves the filters, so an odd count fails for every input.
  c = base();
  c.filters = 7;
  c.activation = "glu";
  expect_error_kind(
      [&] {
        make_problem(c, {1, 5, 5, 2});
      },
      ErrorKind::invalid_config, "it is 7 (filters)");
  expect_error_kind([] { parse_config_json("{\"filters\": 8"); }, ErrorKind::invalid_config,
                    "not valid JSON");
  expect_error_kind([] { parse_config_json(R"({"filters": "8", "kernel_size": 3})"); },
                    ErrorKind::invalid_config, "'filters' must be an integer, got \"8\"");
  expect_error_kind([] { parse_config_json(R"({"kernel_size": 3})"); }, ErrorKind::invalid_config,
                    "lacks the key 'filters'");
  expect_error_kind([] { parse_device("tpu"); }, ErrorKind::invalid_config,
                    "unknown device 'tpu'; valid values are: auto, cpu, cuda, opencl");
}

TEST(ErrorKinds, InvalidInput) {
  expect_error_kind(
      [] {
        make_problem(base(), {5, 5, 2});
      },
      ErrorKind::invalid_input, "rank 4, got rank 3");
  expect_error_kind(
      [] {
        make_problem(base(), {1, 0, 5, 2});
      },
      ErrorKind::invalid_input, "non-positive dimension 0");
  expect_error_kind(
      [] {
        make_problem(base(), {1, 2, 5, 2});
      },
      ErrorKind::invalid_input, "non-positive output size (0, 3)");
  Conv2DConfig grouped = base();
  grouped.groups = 4;
  expect_error_kind(
      [&] {
        make_problem(grouped, {1, 5, 5, 6});
      },
      ErrorKind::invalid_input, "input channels (6) must be divisible by groups (4)");
  expect_error_kind(
      [] {
        make_problem(base(), {1 << 20, 1 << 20, 1 << 20, 1 << 20});
      },
      ErrorKind::invalid_input, "input shape (1048576, 1048576, 1048576, 1048576)");
  // channels_first: glu halves the output width, which the input decides.
  Conv2DConfig glu = base();
  glu.activation = "glu";
  glu.data_format = DataFormat::channels_first;
  expect_error_kind(
      [&] {
        make_problem(glu, {1, 2, 5, 5});
      },
      ErrorKind::invalid_input, "it is 3 (output width)");
  Conv2D layer(8, 3);
  layer.set_weights({Tensor({3, 3, 2, 8}), Tensor({8})});
  expect_error_kind(
      [&] {
        layer(Tensor({1, 5, 5, 3}));
      },
      ErrorKind::invalid_input, "has 3 channels; the layer was built for 2");
}

TEST(ErrorKinds, NpyFiles) {
  const std::string magic = std::string("\x93NUMPY\x01\x00", 8);
  auto file = [&](const std::string& header, const std::string& data) {
    return magic + char(header.size()) + '\0' + header + data;
  };
  expect_error_kind([] { parse_npy("not numpy at all", "x"); }, ErrorKind::invalid_input,
                    "x: not a .npy file (bad magic)");
  expect_error_kind([&] { parse_npy(file("{'descr': '<f4', 'shape': (1,), }", ""), "x"); },
                    ErrorKind::invalid_input, "x: malformed .npy header");
  expect_error_kind(
      [&] {
        parse_npy(file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", ""), "x");
      },
      ErrorKind::invalid_input, "negative dimension");
  expect_error_kind(
      [&] {
        parse_npy(
            file("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
            "x");
      },
      ErrorKind::invalid_input, "unsupported dtype '<c8'");
  expect_error_kind(
      [&] {
        parse_npy(
            file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", std::string(4, '\0')),
            "x");
      },
      ErrorKind::invalid_input, "needs 8 data bytes, the file has 4");
  expect_error_kind([] { read_npy("/nonexistent/halconv_missing.npy"); }, ErrorKind::invalid_input,
                    "cannot open '/nonexistent/halconv_missing.npy'");
}

TEST(ErrorKinds, Unsupported) {
  // Keras accepts these; halconv's int32 buffers and coordinates cannot hold them.
  Conv2DConfig c = base();
  c.strides = int64_t{1} << 40;
  expect_error_kind([&] { validate_config(c); }, ErrorKind::unsupported,
                    "strides[0] 1099511627776 exceeds the supported maximum 2147483647");
  c = base();
  c.kernel_size = Pair(3, int64_t{1} << 30);
  c.dilation_rate = Pair(1, 4);
  expect_error_kind([&] { validate_config(c); }, ErrorKind::unsupported,
                    "kernel_size (3, 1073741824) at dilation_rate (1, 4) exceeds 2^31");
}

TEST(ErrorKinds, AbsentDevice) {
  bool tested = false;
  for (Device device : {Device::cuda, Device::opencl}) {
    bool present = false;
    for (const DeviceInfo& d : list_devices()) present = present || d.device == device;
    if (present) continue;
    expect_error_kind([&] { resolve_device(device); }, ErrorKind::device,
                      "device " + device_name(device) + " is not available");
    tested = true;
  }
  if (!tested) GTEST_SKIP() << "CUDA and OpenCL devices are both present";
}

TEST(Npy, ConvertsDtypesOrderAndEndianness) {
  const std::string magic = std::string("\x93NUMPY\x01\x00", 8);
  auto file = [&](const std::string& header, const std::string& data) {
    return magic + char(header.size()) + '\0' + header + data;
  };
  const double values[2] = {1.5, -2.25};
  const Tensor f8 = parse_npy(file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                   std::string(reinterpret_cast<const char*>(values), 16)),
                              "x");
  EXPECT_EQ(f8.data, (std::vector<float>{1.5f, -2.25f}));
  // float16 1.0 = 0x3c00, -2.0 = 0xc000, big-endian.
  const Tensor f2 = parse_npy(file("{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }",
                                   std::string("\x3c\x00\xc0\x00", 4)),
                              "x");
  EXPECT_EQ(f2.data, (std::vector<float>{1.0f, -2.0f}));
  const float grid[6] = {0, 3, 1, 4, 2, 5};  // a 2x3 array in Fortran order
  const Tensor fortran =
      parse_npy(file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                     std::string(reinterpret_cast<const char*>(grid), 24)),
                "x");
  EXPECT_EQ(fortran.data, (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace halconv
