// Result<T>: the expected-style return type of the I/O path and of everything that can fail
// without it being a programming error. No exceptions travel through the request path.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "skiff/abi.h"

namespace skiff {

struct Error {
  skiff_status_t code = SKIFF_ERR_INTERNAL;
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(skiff_status_t code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace skiff
