// Zip archives through libzip and HDF5 files through libhdf5, both read from memory.
#include "model_files.h"

#include <hdf5.h>
#include <zip.h>

#include <atomic>
#include <cstring>

#include "halconv/error.h"

namespace halconv::detail {
namespace {

Error file_error(const std::string& file, const std::string& what) {
  return Error(ErrorKind::invalid_input, file + ": " + what);
}

// Closes an HDF5 identifier with its kind's close function when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// libhdf5 prints its error stack to stderr unless told not to, per thread in a thread-safe build.
void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// The largest attribute halconv reads (Keras' configs of big models are a few hundred KiB).
constexpr uint64_t kMaxAttributeBytes = uint64_t{64} << 20;

}  // namespace

std::map<std::string, std::string> read_zip(const std::string& bytes, const std::string& file,
                                            const std::vector<std::string>& wanted,
                                            uint64_t max_entry_bytes) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  zip_t* archive =
      source ? zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error) : nullptr;
  if (!archive) {
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (source) zip_source_free(source);
    throw file_error(file, "not a readable zip archive: " + why);
  }
  zip_error_fini(&error);
  std::map<std::string, std::string> entries;
  try {
    for (const std::string& name : wanted) {
      const zip_int64_t index = zip_name_locate(archive, name.c_str(), 0);
      if (index < 0) continue;
      zip_stat_t stat;
      zip_stat_init(&stat);
      if (zip_stat_index(archive, static_cast<zip_uint64_t>(index), 0, &stat) != 0 ||
          !(stat.valid & ZIP_STAT_SIZE)) {
        throw file_error(file, "cannot read the size of archive entry '" + name + "'");
      }
      // Deflate expands at most about 1032:1, so a larger claimed size is a lie; checking it
      // first keeps a forged header from allocating gigabytes.
      const bool compressed_ok =
          !(stat.valid & ZIP_STAT_COMP_SIZE) || stat.size <= stat.comp_size * 1100 + 4096;
      if (stat.size > max_entry_bytes || !compressed_ok) {
        throw file_error(file, "archive entry '" + name + "' holds " + std::to_string(stat.size) +
                                   " bytes, more than the " + std::to_string(max_entry_bytes) +
                                   " halconv reads");
      }
      zip_file_t* entry = zip_fopen_index(archive, static_cast<zip_uint64_t>(index), 0);
      if (!entry) {
        throw file_error(file,
                         "cannot open archive entry '" + name + "': " + zip_strerror(archive));
      }
      std::string data(stat.size, '\0');
      // Reading one byte past the size reaches the end, where libzip checks the CRC-32.
      char probe = 0;
      const zip_int64_t got = stat.size ? zip_fread(entry, data.data(), stat.size) : 0;
      const zip_int64_t more = got >= 0 ? zip_fread(entry, &probe, 1) : -1;
      const std::string why = zip_file_strerror(entry);
      zip_fclose(entry);
      if (got < 0 || more != 0 || static_cast<zip_uint64_t>(got) != stat.size) {
        throw file_error(file, "archive entry '" + name + "' is corrupt or truncated: " +
                                   (got < 0 || more < 0 ? why : "its size does not match"));
      }
      entries.emplace(name, std::move(data));
    }
  } catch (...) {
    zip_discard(archive);
    throw;
  }
  zip_discard(archive);
  return entries;
}

H5File::H5File(const std::string& bytes, const std::string& file) : file_(file) {
  quiet_hdf5();
  // The core (in-memory) driver on a copy of the image, without a backing file. (hdf5_hl's
  // H5LTopen_file_image, which can skip the copy, leaks its bookkeeping in 1.10.) libhdf5 tells
  // open files apart by name, so each image gets its own.
  static std::atomic<uint64_t> opened{0};
  const std::string name = "halconv-image-" + std::to_string(opened++);
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (access.ok() && H5Pset_fapl_core(access.get(), 1 << 20, 0) >= 0 &&
      H5Pset_file_image(access.get(), const_cast<char*>(bytes.data()), bytes.size()) >= 0) {
    id_ = H5Fopen(name.c_str(), H5F_ACC_RDONLY, access.get());
  }
  if (id_ < 0) throw file_error(file, "not a readable HDF5 file (truncated or corrupt)");
}

H5File::~H5File() {
  if (id_ >= 0) H5Fclose(id_);
}

bool H5File::exists(const std::string& path) const {
  quiet_hdf5();
  size_t end = 0;
  while (end != std::string::npos) {
    end = path.find('/', end + 1);
    if (H5Lexists(id_, path.substr(0, end).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

bool H5File::has_attribute(const std::string& path, const std::string& attribute) const {
  quiet_hdf5();
  const std::string object = path.empty() ? "." : path;
  return (path.empty() || exists(path)) &&
         H5Aexists_by_name(id_, object.c_str(), attribute.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> H5File::strings(const std::string& path,
                                         const std::string& attribute) const {
  quiet_hdf5();
  const std::string where = "attribute '" + attribute + "' of '/" + path + "'";
  if (!has_attribute(path, attribute)) {
    // Keras writes a list too long for one attribute as attribute0, attribute1, ...
    if (!has_attribute(path, attribute + "0")) throw file_error(file_, "lacks the " + where);
    std::vector<std::string> joined;
    for (int part = 0; has_attribute(path, attribute + std::to_string(part)); part++) {
      for (std::string& s : strings(path, attribute + std::to_string(part))) {
        joined.push_back(std::move(s));
      }
    }
    return joined;
  }
  const std::string object = path.empty() ? "." : path;
  Handle attr(H5Aopen_by_name(id_, object.c_str(), attribute.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  Handle type(attr.ok() ? H5Aget_type(attr.get()) : -1, H5Tclose);
  Handle space(attr.ok() ? H5Aget_space(attr.get()) : -1, H5Sclose);
  if (!type.ok() || !space.ok()) throw file_error(file_, "cannot read the " + where);
  if (H5Tget_class(type.get()) != H5T_STRING) throw file_error(file_, where + " is not text");
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0 || static_cast<uint64_t>(count) > kMaxAttributeBytes) {
    throw file_error(file_, where + " has an unreadable size");
  }
  std::vector<std::string> out;
  const htri_t variable = H5Tis_variable_str(type.get());
  Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
  if (variable < 0 || !memory.ok()) throw file_error(file_, "cannot read the " + where);
  if (variable > 0) {
    std::vector<char*> values(static_cast<size_t>(count), nullptr);
    if (H5Tset_size(memory.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(memory.get(), H5Tget_cset(type.get())) < 0 ||
        H5Aread(attr.get(), memory.get(), values.data()) < 0) {
      throw file_error(file_, "cannot read the " + where);
    }
    for (char* value : values) out.emplace_back(value ? value : "");
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, values.data());
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || size > kMaxAttributeBytes / (static_cast<uint64_t>(count) + 1)) {
    throw file_error(file_, where + " has an unreadable size");
  }
  std::string buffer(size * static_cast<size_t>(count), '\0');
  if (H5Tset_size(memory.get(), size) < 0 ||
      H5Tset_strpad(memory.get(), H5Tget_strpad(type.get())) < 0 ||
      H5Aread(attr.get(), memory.get(), buffer.data()) < 0) {
    throw file_error(file_, "cannot read the " + where);
  }
  for (hssize_t i = 0; i < count; i++) {
    const std::string value = buffer.substr(static_cast<size_t>(i) * size, size);
    out.push_back(value.substr(0, std::min(value.find('\0'), value.size())));
  }
  return out;
}

Tensor H5File::read(const std::string& path) const {
  quiet_hdf5();
  const std::string where = "dataset '/" + path + "'";
  Handle dataset(exists(path) ? H5Dopen2(id_, path.c_str(), H5P_DEFAULT) : -1, H5Dclose);
  if (!dataset.ok()) throw file_error(file_, "lacks the " + where);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  if (!type.ok() || !space.ok()) throw file_error(file_, "cannot read the " + where);
  if (H5Tget_class(type.get()) != H5T_FLOAT) {
    throw file_error(file_, where + " is not floating-point");
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw file_error(file_, where + " has an unreadable rank");
  hsize_t dims[8] = {};
  if (H5Sget_simple_extent_dims(space.get(), dims, nullptr) != rank) {
    throw file_error(file_, "cannot read the shape of " + where);
  }
  Shape shape;
  int64_t values = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] > static_cast<hsize_t>(kMaxWeightValues) ||
        values * static_cast<int64_t>(dims[i]) > kMaxWeightValues) {
      throw file_error(file_, where + " holds more than " + std::to_string(kMaxWeightValues) +
                                  " values, more than a weight halconv reads");
    }
    values *= static_cast<int64_t>(dims[i]);
    shape.push_back(static_cast<int64_t>(dims[i]));
  }
  Tensor tensor(shape);
  if (values > 0 && H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                            tensor.data.data()) < 0) {
    throw file_error(file_, "cannot read the values of " + where + " (truncated or corrupt)");
  }
  return tensor;
}

}  // namespace halconv::detail
