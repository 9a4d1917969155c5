// libFuzzer target: Keras model files through KerasModel. libhdf5 1.10 is not hardened against
// crafted bytes (byte-level fuzzing hung it in H5HG_read within seconds), so this target writes
// well-formed HDF5 files itself, with libhdf5, from the fuzz input, and fuzzes what halconv reads
// from them: the model config, the groups, datasets (paths, dtypes, shapes) and string attributes
// (fixed and variable length) that its lookups and checks walk. The zip layer takes raw bytes.
//
// Input: TEXT '\0' MODE SPEC...
//   TEXT: the model config (legacy .h5: the model_config attribute; .keras: config.json).
//   MODE: bits 0-1: 0 a legacy .h5 file, 1 a .keras archive built around it, 2 the bytes after
//         MODE as archive bytes (the zip reader alone); bit 2: model_config as a fixed-length
//         string; bit 3: keras_version "2.13.1" instead of "3.15.1".
//   SPEC: entries KIND LEN PATH..., then for KIND 0 (a dataset) DTYPE RANK DIMS..., for KIND 1
//         and 2 (a string-list attribute: 1 fixed, 2 variable length; its name is the path's last
//         part, on the group before it) COUNT then COUNT x (LEN BYTES...).
#include <hdf5.h>
#include <zip.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "halconv/halconv.h"
#include "model_files.h"

namespace {

// Reads the SPEC bytes front to back; past the end everything reads as 0.
struct Reader {
  const uint8_t* data;
  size_t size, at = 0;
  bool done() const { return at >= size; }
  uint8_t byte() { return at < size ? data[at++] : 0; }
  std::string text(size_t n) {
    std::string s;
    while (n-- > 0 && at < size) s.push_back(static_cast<char>(data[at++]));
    return s;
  }
};

// Creates the groups on the way to path (its last part excluded); returns the last group's path.
std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

void add_dataset(hid_t file, const std::string& path, Reader& r) {
  const uint8_t dtype = r.byte() % 3;
  const int rank = r.byte() % 6;
  hsize_t dims[5];
  size_t count = 1;
  for (int i = 0; i < rank; i++) {
    dims[i] = r.byte() % 17;
    count *= dims[i];
  }
  if (count > 4096) return;
  const hid_t type = dtype == 0   ? H5T_NATIVE_FLOAT
                     : dtype == 1 ? H5T_NATIVE_DOUBLE
                                  : H5T_NATIVE_INT;
  std::vector<double> values(count + 1);
  for (size_t i = 0; i < count; i++) values[i] = (static_cast<int>(i % 7) - 3) * 0.25;
  std::vector<float> floats(values.begin(), values.end());
  std::vector<int> ints(values.size(), 1);
  const void* buffer = dtype == 0   ? static_cast<const void*>(floats.data())
                       : dtype == 1 ? static_cast<const void*>(values.data())
                                    : static_cast<const void*>(ints.data());
  const hid_t links = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(links, 1);
  const hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr);
  const hid_t set = H5Dcreate2(file, path.c_str(), type, space, links, H5P_DEFAULT, H5P_DEFAULT);
  if (set >= 0) {
    H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
    H5Dclose(set);
  }
  H5Sclose(space);
  H5Pclose(links);
}

void add_strings(hid_t file, const std::string& object, const std::string& name,
                 const std::vector<std::string>& values, bool variable, bool scalar) {
  if (!object.empty() && H5Lexists(file, object.c_str(), H5P_DEFAULT) <= 0) {
    const hid_t links = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(links, 1);
    const hid_t group = H5Gcreate2(file, object.c_str(), links, H5P_DEFAULT, H5P_DEFAULT);
    if (group >= 0) H5Gclose(group);
    H5Pclose(links);
  }
  const hid_t target = H5Oopen(file, object.empty() ? "/" : object.c_str(), H5P_DEFAULT);
  if (target < 0) return;
  const hid_t type = H5Tcopy(H5T_C_S1);
  size_t width = 1;
  for (const std::string& v : values) width = std::max(width, v.size());
  H5Tset_size(type, variable ? H5T_VARIABLE : width);
  const hsize_t count = values.size();
  const hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr);
  const hid_t attr = H5Acreate2(target, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr >= 0) {
    if (variable) {
      std::vector<const char*> pointers;
      for (const std::string& v : values) pointers.push_back(v.c_str());
      H5Awrite(attr, type, pointers.data());
    } else {
      std::string packed;
      for (const std::string& v : values) packed += v + std::string(width - v.size(), '\0');
      H5Awrite(attr, type, packed.data());
    }
    H5Aclose(attr);
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Oclose(target);
}

// An HDF5 file's bytes, written in memory by libhdf5 (empty if it failed).
std::string write_h5(const std::string& config, uint8_t mode, Reader& r, bool legacy) {
  static std::atomic<uint64_t> made{0};
  const std::string name = "fuzz-model-" + std::to_string(made++);
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(access, 1 << 16, 0);
  const hid_t file = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access);
  H5Pclose(access);
  if (file < 0) return {};
  if (legacy) {
    add_strings(file, "", "model_config", {config}, !(mode & 4), true);
    add_strings(file, "", "keras_version", {mode & 8 ? "2.13.1" : "3.15.1"}, true, true);
  }
  while (!r.done()) {
    const uint8_t kind = r.byte() % 3;
    const std::string path = r.text(r.byte());
    if (path.empty()) continue;
    if (kind == 0) {
      add_dataset(file, path, r);
    } else {
      std::vector<std::string> values(r.byte() % 9);
      for (std::string& v : values) v = r.text(r.byte());
      if (values.empty()) continue;
      add_strings(file, parent_of(path), path.substr(path.rfind('/') + 1), values, kind == 2,
                  false);
    }
  }
  H5Fflush(file, H5F_SCOPE_GLOBAL);
  std::string image;
  const ssize_t size = H5Fget_file_image(file, nullptr, 0);
  if (size > 0) {
    image.resize(static_cast<size_t>(size));
    if (H5Fget_file_image(file, image.data(), image.size()) != size) image.clear();
  }
  H5Fclose(file);
  return image;
}

// A zip archive of the named entries, written in memory by libzip (empty if it failed).
std::string write_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_error_fini(&error);
  if (!out) return {};
  zip_source_keep(out);
  zip_t* archive = zip_open_from_source(out, ZIP_TRUNCATE, nullptr);
  std::string bytes;
  if (archive) {
    for (const auto& [name, data] : entries) {
      zip_source_t* s = zip_source_buffer(archive, data.data(), data.size(), 0);
      if (s && zip_file_add(archive, name.c_str(), s, ZIP_FL_ENC_UTF_8) < 0) zip_source_free(s);
    }
    if (zip_close(archive) != 0) zip_discard(archive);
    zip_stat_t stat;
    if (zip_source_stat(out, &stat) == 0 && (stat.valid & ZIP_STAT_SIZE) &&
        zip_source_open(out) == 0) {
      bytes.resize(stat.size);
      if (zip_source_read(out, bytes.data(), stat.size) != static_cast<zip_int64_t>(stat.size))
        bytes.clear();
      zip_source_close(out);
    }
  }
  zip_source_free(out);
  return bytes;
}

void load(const std::string& bytes) {
  const halconv::KerasModel model = halconv::KerasModel::from_bytes(bytes, "fuzz");
  for (const halconv::ModelLayer& info : model.layers()) {
    model.layer(info.name)->get_config();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  try {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const size_t nul = input.find('\0');
    if (nul == std::string::npos) return 0;
    const std::string config = input.substr(0, nul);
    Reader r{data + nul + 1, size - nul - 1};
    const uint8_t mode = r.byte();
    if ((mode & 3) == 2) {
      halconv::detail::read_zip(input.substr(nul + 2), "fuzz", {"config.json", "model.weights.h5"},
                                1 << 20);
    } else if ((mode & 3) == 0) {
      load(write_h5(config, mode, r, true));
    } else {
      const std::string weights = write_h5(config, mode, r, false);
      load(write_zip({{"metadata.json", mode & 8 ? R"({"keras_version": "2.13.1"})"
                                                 : R"({"keras_version": "3.15.1"})"},
                      {"config.json", config},
                      {"model.weights.h5", weights}}));
    }
  } catch (const halconv::Error&) {
  }
  return 0;
}
