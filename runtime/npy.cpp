// NumPy .npy reading and writing. No Debian package reads .npy strictly enough for untrusted input,
// so this is a small parser that checks every field against the bytes actually present.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "halconv/io.h"

namespace halconv {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr int64_t kMaxElements = int64_t{1} << 31;  // matches the 2^31-byte buffer limit

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa ? NAN : INFINITY;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr") {
        descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        pos_++;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape) {
      fail("the header lacks descr, fortran_order or shape");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::invalid_input, what_ + ": malformed .npy header (" + why + ")");
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) pos_++;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    pos_++;
  }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("fortran_order must be True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') {
        pos_++;
        return shape;
      }
      if (peek() == '-') fail("negative dimension");
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, peek() - '0', &value)) {
          fail("dimension overflows");
        }
        pos_++;
      }
      if (shape.size() >= 32) fail("more than 32 dimensions");
      shape.push_back(value);
      skip_space();
      if (peek() == ',') {
        pos_++;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& what) {
  if (bytes.size() < kMagicSize + 4 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    throw Error(ErrorKind::invalid_input, what + ": not a .npy file (bad magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(ErrorKind::invalid_input, what + ": truncated .npy header");
    header_len = 0;
    for (int i = 3; i >= 0; i--)
      header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    throw Error(ErrorKind::invalid_input,
                what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_start)
    throw Error(ErrorKind::invalid_input, what + ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);

  std::string descr;
  bool fortran = false;
  Shape shape;
  HeaderParser(header, what).parse(descr, fortran, shape);

  int64_t count = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(count, d, &count) || count > kMaxElements) {
      throw Error(ErrorKind::invalid_input,
                  what + ": shape " + shape_to_string(shape) + " is too large");
    }
  }
  if (descr.size() != 3 ||
      (descr[0] != '<' && descr[0] != '>' && descr[0] != '|' && descr[0] != '=') ||
      descr[1] != 'f' || (descr[2] != '2' && descr[2] != '4' && descr[2] != '8')) {
    throw Error(ErrorKind::invalid_input,
                what + ": unsupported dtype '" + descr + "' (float16, float32 or float64 only)");
  }
  const size_t item = static_cast<size_t>(descr[2] - '0');
  const bool swap = descr[0] == '>';
  const size_t data_start = header_start + header_len;
  const size_t need = static_cast<size_t>(count) * item;
  if (bytes.size() - data_start != need) {
    throw Error(ErrorKind::invalid_input, what + ": shape " + shape_to_string(shape) + " of '" +
                                              descr + "' needs " + std::to_string(need) +
                                              " data bytes, the file has " +
                                              std::to_string(bytes.size() - data_start));
  }

  std::vector<float> values(static_cast<size_t>(count));
  const unsigned char* data = reinterpret_cast<const unsigned char*>(bytes.data()) + data_start;
  for (size_t i = 0; i < values.size(); i++) {
    unsigned char raw[8];
    for (size_t b = 0; b < item; b++) raw[b] = data[i * item + (swap ? item - 1 - b : b)];
    if (item == 2) {
      uint16_t h;
      std::memcpy(&h, raw, 2);
      values[i] = half_to_float(h);
    } else if (item == 4) {
      std::memcpy(&values[i], raw, 4);
    } else {
      double v;
      std::memcpy(&v, raw, 8);
      values[i] = static_cast<float>(v);
    }
  }
  if (fortran && shape.size() > 1) {
    // Column-major to row-major: walk the C-order index and read the Fortran-order offset.
    std::vector<float> c_order(values.size());
    std::vector<int64_t> index(shape.size(), 0);
    for (size_t i = 0; i < c_order.size(); i++) {
      int64_t offset = 0, stride = 1;
      for (size_t d = 0; d < shape.size(); d++) {
        offset += index[d] * stride;
        stride *= shape[d];
      }
      c_order[i] = values[static_cast<size_t>(offset)];
      for (size_t d = shape.size(); d-- > 0;) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
    values.swap(c_order);
  }
  return Tensor(shape, std::move(values));
}

Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorKind::invalid_input, "cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::invalid_input, "cannot read '" + path + "'");
  return parse_npy(buffer.str(), "'" + path + "'");
}

void write_npy(const std::string& path, const Tensor& tensor) {
  std::string dims;
  for (size_t i = 0; i < tensor.shape.size(); i++) {
    dims += (i ? ", " : "") + std::to_string(tensor.shape[i]);
  }
  if (tensor.shape.size() == 1) dims += ",";  // Python's one-element tuple
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t unpadded = kMagicSize + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0)
    throw Error(ErrorKind::invalid_input,
                "cannot create a temporary file next to '" + path + "': " + std::strerror(errno));
  fchmod(fd, 0644);
  FILE* f = fdopen(fd, "wb");
  const uint16_t len = static_cast<uint16_t>(header.size());
  const unsigned char preamble[4] = {1, 0, static_cast<unsigned char>(len & 0xff),
                                     static_cast<unsigned char>(len >> 8)};
  bool ok =
      f && std::fwrite(kMagic, 1, kMagicSize, f) == kMagicSize &&
      std::fwrite(preamble, 1, 4, f) == 4 &&
      std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
      std::fwrite(tensor.data.data(), sizeof(float), tensor.data.size(), f) == tensor.data.size();
  ok = (f ? std::fclose(f) == 0 : (close(fd), false)) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(ErrorKind::invalid_input, "cannot write '" + path + "': " + why);
  }
}

}  // namespace halconv
