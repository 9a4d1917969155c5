// The containers Keras writes models in: zip archives (libzip) and HDF5 files (libhdf5), read from
// bytes in memory. Every failure is an Error naming the file and the entry or object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "halconv/layer.h"

namespace halconv::detail {

// The largest weight array a model file may hold (a 3x3x2048x2048 kernel has 2^25.2 values); a
// larger one is refused before it is allocated.
constexpr int64_t kMaxWeightValues = int64_t{1} << 27;

// The entries of a zip archive by name, each read whole and checked against its CRC-32. Entries
// above max_entry_bytes are refused.
std::map<std::string, std::string> read_zip(const std::string& bytes, const std::string& file,
                                            const std::vector<std::string>& wanted,
                                            uint64_t max_entry_bytes);

// An HDF5 file opened read-only from bytes in memory (which must outlive it).
class H5File {
 public:
  H5File(const std::string& bytes, const std::string& file);
  ~H5File();
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  // Whether each '/'-separated link of path exists.
  bool exists(const std::string& path) const;
  // A string attribute of the object at path ("" for the root): a scalar gives one string, an
  // array one per element. Keras splits a long list over name0, name1, ...; those are joined.
  // Throws when it is missing or not a string.
  std::vector<std::string> strings(const std::string& path, const std::string& attribute) const;
  bool has_attribute(const std::string& path, const std::string& attribute) const;
  // A floating-point dataset as float32, at most kMaxWeightValues values.
  Tensor read(const std::string& path) const;

 private:
  std::string file_;
  int64_t id_ = -1;
};

}  // namespace halconv::detail
