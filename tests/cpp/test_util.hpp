// Helpers shared by the GoogleTest files.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "gpulearn/core/device.hpp"

// Skips the current test, with the reason gpulearn gives, where no CUDA device is usable.
#define GPULEARN_SKIP_WITHOUT_CUDA()                                             \
  do {                                                                           \
    if (!gpulearn::cuda_available()) {                                           \
      GTEST_SKIP() << "no CUDA device: " << gpulearn::cuda_unavailable_reason(); \
    }                                                                            \
  } while (0)

// On the CUDA emulator (emulator/), a test that takes minutes there is skipped with that reason
// unless GPULEARN_EMU_SLOW_TESTS=1 (scripts/test-emulated sets it). On a GPU it always runs.
#define GPULEARN_SKIP_SLOW_ON_EMULATOR()                                                        \
  do {                                                                                          \
    const char* gpulearn_slow_ = std::getenv("GPULEARN_EMU_SLOW_TESTS");                        \
    if (gpulearn::cuda_emulated() && (gpulearn_slow_ == nullptr || *gpulearn_slow_ != '1')) {   \
      GTEST_SKIP() << "takes minutes on the CUDA emulator (thousands of fibers per launch, "    \
                      "run twice by the race check); runs on a GPU, and on the emulator with "  \
                      "GPULEARN_EMU_SLOW_TESTS=1 (bash scripts/test-emulated)";                 \
    }                                                                                           \
  } while (0)

namespace gpulearn::test_util {

// Success when f throws E (or a subclass) whose message contains every needle.
template <typename E, typename F>
::testing::AssertionResult ThrowsWith(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& needle : needles) {
      if (what.find(needle) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message \"" << what << "\" lacks \"" << needle << "\"";
      }
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another exception type: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// Sets an environment variable for a scope (an empty value unsets it), restoring the previous
// value after it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      had_ = true;
      old_ = old;
    }
    if (value.empty()) {
      unsetenv(name);
    } else {
      setenv(name, value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

// ---- Comparing the CUDA backend's results with the CPU backend's ------------------------------

/// The largest |actual[i] - expected[i]| and where it is; a NaN difference counts as the largest.
struct WorstError {
  double error = 0;
  size_t at = 0;
};
template <typename A, typename B>
WorstError worst_error(const std::vector<A>& actual, const std::vector<B>& expected) {
  WorstError w;
  for (size_t i = 0; i < expected.size() && i < actual.size(); ++i) {
    const double err = std::abs(static_cast<double>(actual[i]) - static_cast<double>(expected[i]));
    if (!(err <= w.error)) w = WorstError{err, i};
  }
  return w;
}

/// max(1, max |v|): the scale of a relative tolerance.
template <typename U>
double scale_of(const std::vector<U>& v) {
  double m = 1.0;
  for (U x : v) m = std::max(m, std::abs(static_cast<double>(x)));
  return m;
}

/// Every |actual - expected| <= tol (an absolute tolerance).
template <typename A, typename B>
void expect_within(const std::vector<A>& actual, const std::vector<B>& expected, double tol,
                   const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  const WorstError w = worst_error(actual, expected);
  EXPECT_LE(w.error, tol) << what << ": max |cuda - cpu| = " << w.error << " at " << w.at;
}

/// Every |actual - expected| <= tol * max(1, max |expected|).
template <typename A, typename B>
void expect_close(const std::vector<A>& actual, const std::vector<B>& expected, double tol,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  const double scale = scale_of(expected);
  const WorstError w = worst_error(actual, expected);
  EXPECT_LE(w.error, tol * scale) << what << ": max |cuda - cpu| = " << w.error << " at " << w.at
                                  << " with scale " << scale;
}

}  // namespace gpulearn::test_util
