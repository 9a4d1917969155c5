// The one exception halconv throws, with the kind of failure it reports.
#pragma once

#include <stdexcept>
#include <string>

namespace halconv {

// invalid_config: a layer configuration Keras rejects (filters, kernel_size, padding, ...).
// invalid_input: a tensor, shape, weight or file that does not fit the layer or cannot be read.
// unsupported: valid for Keras but not run by halconv (a variant that cannot run a problem, an ISA
// this CPU lacks). device: a device that is absent or failed. internal: a bug in halconv.
enum class ErrorKind { invalid_config, invalid_input, unsupported, device, internal };

// "invalid_config", "invalid_input", "unsupported", "device" or "internal".
const char* error_kind_name(ErrorKind kind);

// Every failure is reported with this, naming the offending value.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace halconv
