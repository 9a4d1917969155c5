// File formats the CLI speaks: NumPy .npy arrays and Keras' Conv2D config JSON.
//
// Thread-safety: any thread may call these at any time; write_npy to one path from two threads
// leaves one of the two files.
#pragma once

#include <string>

#include "halconv/config.h"
#include "halconv/conv2d.h"

namespace halconv {

// Reads a NumPy .npy file (format 1.0/2.0/3.0, C order) of float32, float64 or float16 into
// float32. Fortran order and big-endian data are converted. Anything malformed is an Error naming
// the file.
Tensor read_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& what);
// Writes float32 .npy atomically: a temporary file in the same folder, then a rename.
void write_npy(const std::string& path, const Tensor& tensor);

// Keras 3 Conv2D.get_config() JSON <-> config. Keys that do not affect the forward pass are
// ignored.
Conv2DConfig parse_config_json(const std::string& json);
std::string config_to_json(const Conv2DConfig& config);

}  // namespace halconv
