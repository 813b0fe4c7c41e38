// Errors: one hierarchy rooted at gpulearn::Error.
//
// InvalidArgument -> Python ValueError, NotFitted -> NotFittedError, OutOfMemory -> MemoryError,
// DeviceError (a CUDA / cuBLAS / cuSOLVER code, with the call that returned it),
// Unsupported (a feature this build or device lacks) -> NotImplementedError.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace gpulearn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class InvalidArgument : public Error {
 public:
  using Error::Error;
};
class NotFitted : public Error {
 public:
  using Error::Error;
};
class OutOfMemory : public Error {
 public:
  using Error::Error;
};
class DeviceError : public Error {
 public:
  using Error::Error;
};
class Unsupported : public Error {
 public:
  using Error::Error;
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// The source path from the project's top folders on ("src/core/x.cpp"), not the build host's.
inline const char* project_path(const char* file) {
  for (const char* top : {"/src/", "/cuda/", "/include/", "/python/", "/tests/"}) {
    if (const char* p = std::strstr(file, top)) return p + 1;
  }
  return file;
}

template <typename E, typename... Args>
[[noreturn]] void raise(const char* file, int line, const Args&... args) {
  // The location goes last: users read the message first, developers find the line.
  throw E(concat(args..., " [", project_path(file), ":", line, "]"));
}

}  // namespace detail

/// a * b for sizes, throwing InvalidArgument instead of wrapping.
inline int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) {
    throw InvalidArgument(
        detail::concat("size overflow: ", a, " * ", b, " does not fit in a 64-bit signed integer"));
  }
  return r;
}

/// a + b for sizes, throwing InvalidArgument instead of wrapping.
inline int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r)) {
    throw InvalidArgument(
        detail::concat("size overflow: ", a, " + ", b, " does not fit in a 64-bit signed integer"));
  }
  return r;
}

}  // namespace gpulearn

/// A user error: throws InvalidArgument with the message when cond is false.
#define GPULEARN_EXPECTS(cond, ...)                                                            \
  do {                                                                                         \
    if (!(cond))                                                                               \
      ::gpulearn::detail::raise<::gpulearn::InvalidArgument>(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

/// Throws the given error type with a message built from the remaining arguments.
#define GPULEARN_FAIL(ErrorType, ...) \
  ::gpulearn::detail::raise<ErrorType>(__FILE__, __LINE__, __VA_ARGS__)

/// An internal invariant: checked in debug builds, and in test builds (GPULEARN_ENABLE_ASSERTS,
/// CMake's GPULEARN_ASSERTS) so that a broken contract between a driver and a primitive fails a
/// test instead of writing out of bounds.
#if defined(NDEBUG) && !defined(GPULEARN_ENABLE_ASSERTS)
#define GPULEARN_ASSERT(cond) ((void)0)
#else
#define GPULEARN_ASSERT(cond)                                                                     \
  do {                                                                                            \
    if (!(cond))                                                                                  \
      ::gpulearn::detail::raise<::gpulearn::Error>(__FILE__, __LINE__, "internal error: " #cond); \
  } while (0)
#endif
