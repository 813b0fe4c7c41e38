// LinearRegression, Ridge and linear_predict on the CUDA backend against the CPU backend, on the
// same inputs. Skipped, with the reason, where no CUDA device is usable.
//
// Every problem is drawn from a seeded std::mt19937_64 (the seed is in each test). X has a
// non-zero mean (so centring matters) and never zeros; weights are drawn in [0.5, 2).
// Tolerances, relative to max(1, the largest |value| compared): 1e-9 in double, 1e-4 in float
// up to 10^4 samples, growing like sqrt(n) past that (float32 sums over n rows lose ~sqrt(n) eps,
// and the two backends sum in different orders).
// Rank-deficient problems either scale a column exactly (times 2, exact in binary floating
// point) or hold a constant column of ones, which centres to exact zeros on both backends (its
// weighted mean is sum(w) / sum(w) = 1 exactly), so the Gram matrix is exactly singular.
//
// This binary links the core library only, not the CUDA runtime, so every input here is in host
// memory: the CUDA backend streams it through device memory in row chunks. The environment
// variable GPULEARN_CUDA_MAX_CHUNK_ROWS caps the chunk so that small problems cross many chunk
// boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/linear_model/linear_model.hpp"
#include "test_util.hpp"

#ifdef GPULEARN_EMU_INSTRUMENTED
#include <cuda_runtime.h>  // the emulator's: cudaMemGetInfo for the scratch test
#endif

namespace gpulearn::linear_model {
namespace {

using test_util::ScopedEnv;

template <typename T>
double tolerance(int64_t n) {
  if (std::is_same_v<T, double>) return 1e-9;
  // cuBLAS promises no summation order: a sum of n float32 terms may be formed sequentially,
  // with an error up to about n * eps32 (the CUDA emulator's reference BLAS does exactly that,
  // and at n = 2e5 its intercepts differed from the CPU's by 4.4e-3 relative, which the old
  // sqrt(n) bar, fit to a blocked order, rejected). Half the sequential bound, never less
  // than the blocked-order bar.
  const double sequential = 0.5 * static_cast<double>(n) * std::numeric_limits<float>::epsilon();
  return std::max(1e-4 * std::max(1.0, std::sqrt(static_cast<double>(n) / 1e4)), sequential);
}

struct Spec {
  int64_t n = 500, d = 6, k = 1;
  bool weights = false;
  int64_t x_pad = 0;             // extra elements per row of X (row stride d + x_pad)
  int64_t w_stride = 1;          // stride of the weight vector
  bool rank_deficient = false;   // last column = 2 * column 0
  bool constant_column = false;  // last column = 1
};

// A problem in host memory: X (n x d, stride ld), Y (n x k), optional weights.
template <typename T>
struct Problem {
  Spec spec;
  int64_t ld = 0;
  std::vector<T> X, Y, w;

  MatrixView<const T> x() const { return MatrixView<const T>(X.data(), spec.n, spec.d, ld); }
  MatrixView<const T> y() const { return MatrixView<const T>(Y.data(), spec.n, spec.k); }
  VectorView<const T> weights() const {
    return spec.weights ? VectorView<const T>(w.data(), spec.n, spec.w_stride)
                        : VectorView<const T>();
  }
};

template <typename T>
Problem<T> make_problem(uint64_t seed, const Spec& spec) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.5, 2.0);
  Problem<T> p;
  p.spec = spec;
  p.ld = spec.d + spec.x_pad;
  p.X.assign(spec.n * p.ld, T(0));
  for (int64_t i = 0; i < spec.n; ++i) {
    for (int64_t j = 0; j < p.ld; ++j) {
      // Padding gets NaN: it must never be read.
      p.X[i * p.ld + j] =
          j < spec.d ? static_cast<T>(3.0 + j + normal(rng)) : std::numeric_limits<T>::quiet_NaN();
    }
    if (spec.rank_deficient) p.X[i * p.ld + spec.d - 1] = T(2) * p.X[i * p.ld];
    if (spec.constant_column) p.X[i * p.ld + spec.d - 1] = T(1);
  }
  std::vector<double> coef(spec.k * spec.d);
  for (double& c : coef) c = normal(rng);
  p.Y.resize(spec.n * spec.k);
  for (int64_t i = 0; i < spec.n; ++i) {
    for (int64_t t = 0; t < spec.k; ++t) {
      double v = 0.5 + t + 0.1 * normal(rng);
      for (int64_t j = 0; j < spec.d; ++j) v += coef[t * spec.d + j] * p.X[i * p.ld + j];
      p.Y[i * spec.k + t] = static_cast<T>(v);
    }
  }
  if (spec.weights) {
    p.w.assign(spec.n * spec.w_stride, std::numeric_limits<T>::quiet_NaN());
    for (int64_t i = 0; i < spec.n; ++i) p.w[i * spec.w_stride] = static_cast<T>(uniform(rng));
  }
  return p;
}

using test_util::expect_close;

template <typename T>
void expect_same_model(const LinearModel<T>& cuda, const LinearModel<T>& cpu, double tol) {
  EXPECT_EQ(cuda.solver, cpu.solver);
  EXPECT_EQ(cuda.rank, cpu.rank);
  EXPECT_EQ(cuda.n_features, cpu.n_features);
  EXPECT_EQ(cuda.n_targets, cpu.n_targets);
  expect_close(cuda.coef, cpu.coef, tol, "coef");
  expect_close(cuda.intercept, cpu.intercept, tol, "intercept");
  expect_close(cuda.singular_values, cpu.singular_values, tol, "singular values");
}

template <typename T>
void compare_linear_regression(uint64_t seed, const Spec& spec, const std::string& solver,
                               LinearRegressionParams params = {}) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Problem<T> p = make_problem<T>(seed, spec);
  Context cpu(Device::cpu()), cuda(Device::cuda(0));
  const auto expected = linear_regression_fit<T>(cpu, params, p.x(), p.y(), p.weights());
  const auto actual = linear_regression_fit<T>(cuda, params, p.x(), p.y(), p.weights());
  EXPECT_EQ(expected.solver, solver) << "the problem does not take the intended path";
  expect_same_model(actual, expected, tolerance<T>(spec.n));
}

template <typename T>
void compare_ridge(uint64_t seed, const Spec& spec, const RidgeParams& params,
                   const std::string& solver) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Problem<T> p = make_problem<T>(seed, spec);
  Context cpu(Device::cpu()), cuda(Device::cuda(0));
  const auto expected = ridge_fit<T>(cpu, params, p.x(), p.y(), p.weights());
  const auto actual = ridge_fit<T>(cuda, params, p.x(), p.y(), p.weights());
  EXPECT_EQ(expected.solver, solver) << "the problem does not take the intended path";
  expect_same_model(actual, expected, tolerance<T>(spec.n));
}

template <typename T>
class CudaLinearModelTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaLinearModelTest, FloatTypes);

// ---- LinearRegression -----------------------------------------------------------------------

TYPED_TEST(CudaLinearModelTest, LinearRegressionOneTarget) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  compare_linear_regression<TypeParam>(101, Spec{}, "cholesky");
}

TYPED_TEST(CudaLinearModelTest, LinearRegressionSeveralTargetsWeighted) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 800;
  spec.d = 9;
  spec.k = 3;
  spec.weights = true;
  compare_linear_regression<TypeParam>(102, spec, "cholesky");
}

TYPED_TEST(CudaLinearModelTest, LinearRegressionWithoutIntercept) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.weights = true;
  LinearRegressionParams params;
  params.fit_intercept = false;
  compare_linear_regression<TypeParam>(103, spec, "cholesky", params);
}

TYPED_TEST(CudaLinearModelTest, LinearRegressionRankDeficientTakesTheSvdPath) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.k = 2;
  spec.weights = true;
  spec.rank_deficient = true;
  LinearRegressionParams params;
  // In float the dropped singular value is rounding noise (~1e-7 relative): a cutoff well above
  // it makes both backends drop it.
  if (std::is_same_v<TypeParam, float>) params.tol = 1e-4;
  compare_linear_regression<TypeParam>(104, spec, "svd", params);
}

TYPED_TEST(CudaLinearModelTest, LinearRegressionConstantFeature) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.k = 2;
  spec.constant_column = true;
  LinearRegressionParams params;
  if (std::is_same_v<TypeParam, float>) params.tol = 1e-4;
  compare_linear_regression<TypeParam>(107, spec, "svd", params);
}

TYPED_TEST(CudaLinearModelTest, LinearRegressionFewerSamplesThanFeatures) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 7;
  spec.d = 12;
  spec.k = 2;
  LinearRegressionParams params;
  if (std::is_same_v<TypeParam, float>) params.tol = 1e-4;
  compare_linear_regression<TypeParam>(105, spec, "svd", params);
}

TYPED_TEST(CudaLinearModelTest, LinearRegressionOneSampleOneFeature) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 1;
  spec.d = 1;
  compare_linear_regression<TypeParam>(106, spec, "svd");
}

// ---- Ridge ----------------------------------------------------------------------------------

TYPED_TEST(CudaLinearModelTest, RidgeCholesky) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.k = 2;
  RidgeParams params;
  params.alpha = {2.5};
  compare_ridge<TypeParam>(201, spec, params, "cholesky");
}

TYPED_TEST(CudaLinearModelTest, RidgeOneAlphaPerTargetWeighted) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.k = 3;
  spec.weights = true;
  RidgeParams params;
  params.alpha = {0.1, 1.0, 10.0};
  compare_ridge<TypeParam>(202, spec, params, "eigh");
}

TYPED_TEST(CudaLinearModelTest, RidgeSvdSolver) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.k = 2;
  spec.weights = true;
  RidgeParams params;
  params.alpha = {0.5};
  params.solver = RidgeSolver::kSvd;
  compare_ridge<TypeParam>(203, spec, params, "svd");
}

TYPED_TEST(CudaLinearModelTest, RidgeSingularWithoutPenaltyFallsBackToSvd) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.weights = true;
  spec.constant_column = true;  // an exactly zero pivot: Cholesky fails on both backends
  RidgeParams params;
  params.alpha = {0.0};
  compare_ridge<TypeParam>(204, spec, params, "svd");
}

// ---- Streaming host data in row chunks --------------------------------------------------------

TYPED_TEST(CudaLinearModelTest, HostDataStreamedInManyChunks) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 1000;
  spec.d = 5;
  spec.k = 2;
  spec.weights = true;
  spec.x_pad = 3;     // strided rows
  spec.w_stride = 2;  // strided weights
  for (const char* rows : {"1", "37", "999"}) {
    SCOPED_TRACE(std::string("chunk rows ") + rows);
    ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
    compare_linear_regression<TypeParam>(301, spec, "cholesky");
    RidgeParams ridge;
    ridge.alpha = {1.0, 3.0};
    compare_ridge<TypeParam>(302, spec, ridge, "eigh");
    ridge.solver = RidgeSolver::kSvd;
    compare_ridge<TypeParam>(303, spec, ridge, "svd");
    Spec deficient = spec;
    deficient.rank_deficient = true;
    LinearRegressionParams params;
    if (std::is_same_v<TypeParam, float>) params.tol = 1e-4;
    compare_linear_regression<TypeParam>(304, deficient, "svd", params);
  }
}

TYPED_TEST(CudaLinearModelTest, ManySamples) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 200000;
  spec.d = 17;
  spec.k = 2;
  spec.weights = true;
  compare_linear_regression<TypeParam>(305, spec, "cholesky");
  RidgeParams params;
  params.solver = RidgeSolver::kSvd;
  compare_ridge<TypeParam>(306, spec, params, "svd");
}

// ---- Prediction -------------------------------------------------------------------------------

TYPED_TEST(CudaLinearModelTest, PredictMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  for (int64_t k : {1, 3}) {
    for (const char* rows : {"", "1", "29"}) {
      SCOPED_TRACE("k " + std::to_string(k) + ", chunk rows '" + rows + "'");
      std::unique_ptr<ScopedEnv> env;
      if (*rows != '\0') env = std::make_unique<ScopedEnv>("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
      Spec spec;
      spec.n = 300;
      spec.k = k;
      spec.x_pad = 2;
      const Problem<T> p = make_problem<T>(401 + k, spec);
      Context cpu(Device::cpu()), cuda(Device::cuda(0));
      const auto model = linear_regression_fit<T>(cpu, {}, p.x(), p.y());
      // Output with a row stride wider than k, padding filled with a sentinel that must survive.
      const int64_t ld = k + 2;
      const T sentinel = T(-12345);
      std::vector<T> expected(spec.n * ld, sentinel), actual(spec.n * ld, sentinel);
      linear_predict<T>(cpu, model, p.x(), MatrixView<T>(expected.data(), spec.n, k, ld));
      linear_predict<T>(cuda, model, p.x(), MatrixView<T>(actual.data(), spec.n, k, ld));
      std::vector<T> got, want;
      for (int64_t i = 0; i < spec.n; ++i) {
        for (int64_t j = k; j < ld; ++j) ASSERT_EQ(actual[i * ld + j], sentinel);
        got.insert(got.end(), actual.begin() + i * ld, actual.begin() + i * ld + k);
        want.insert(want.end(), expected.begin() + i * ld, expected.begin() + i * ld + k);
      }
      expect_close(got, want, tolerance<T>(spec.n), "predictions");
    }
  }
}

TYPED_TEST(CudaLinearModelTest, PredictNoRows) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const Problem<T> p = make_problem<T>(402, Spec{});
  Context cuda(Device::cuda(0));
  const auto model = linear_regression_fit<T>(cuda, {}, p.x(), p.y());
  const MatrixView<const T> none(nullptr, 0, p.spec.d);
  EXPECT_NO_THROW(linear_predict<T>(cuda, model, none, MatrixView<T>(nullptr, 0, 1)));
}

// ---- Input checks run on the device -----------------------------------------------------------

TYPED_TEST(CudaLinearModelTest, RejectsNonFiniteInput) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Context cuda(Device::cuda(0));
  for (T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                -std::numeric_limits<T>::infinity()}) {
    Problem<T> p = make_problem<T>(501, Spec{});
    p.X[123 * p.ld + 4] = bad;
    EXPECT_THROW(linear_regression_fit<T>(cuda, {}, p.x(), p.y()), InvalidArgument);
    p = make_problem<T>(502, Spec{});
    p.Y.back() = bad;
    EXPECT_THROW(linear_regression_fit<T>(cuda, {}, p.x(), p.y()), InvalidArgument);
    Spec weighted;
    weighted.weights = true;
    p = make_problem<T>(503, weighted);
    p.w[7] = bad;
    EXPECT_THROW(linear_regression_fit<T>(cuda, {}, p.x(), p.y(), p.weights()), InvalidArgument);
  }
}

TYPED_TEST(CudaLinearModelTest, RejectsNegativeWeights) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Context cuda(Device::cuda(0));
  Spec spec;
  spec.weights = true;
  Problem<T> p = make_problem<T>(504, spec);
  p.w[spec.n - 1] = T(-0.5);
  EXPECT_THROW(linear_regression_fit<T>(cuda, {}, p.x(), p.y(), p.weights()), InvalidArgument);
}

// ---- Devices ----------------------------------------------------------------------------------

TEST(CudaBackendTest, EveryDeviceFitsTheSameModel) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  const Problem<double> p = make_problem<double>(601, Spec{});
  Context cpu(Device::cpu());
  const auto expected = linear_regression_fit<double>(cpu, {}, p.x(), p.y());
  for (int dev = 0; dev < cuda_device_count(); ++dev) {
    SCOPED_TRACE("cuda:" + std::to_string(dev));
    Context cuda(Device::cuda(dev));
    EXPECT_EQ(cuda.device(), Device::cuda(dev));
    expect_same_model(linear_regression_fit<double>(cuda, {}, p.x(), p.y()), expected, 1e-9);
  }
}

TEST(CudaBackendTest, AutoPicksCudaAndSynchronizes) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Context ctx(Device::parse("auto"));
  // "auto" never picks an emulated device (the CUDA emulator's test build).
  EXPECT_EQ(ctx.device(), cuda_emulated() ? Device::cpu() : Device::cuda(0));
  EXPECT_NO_THROW(ctx.synchronize());
}

#ifdef GPULEARN_EMU_INSTRUMENTED
// Device memory the emulator (shared with the plugin in this build) has free.
size_t free_device_bytes() {
  size_t free_bytes = 0, total_bytes = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  return free_bytes;
}

// The chunk scratch a fit on large host data leaves cached is given back by trim_scratch, and
// the next fit allocates again and gets the same model; scratch of at most 1 MiB is kept.
TEST(CudaBackendTest, TrimScratchGivesBackLargeScratchOnly) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec big;
  big.n = 40000;  // 40000 x 6 doubles streamed through the chunk scratch: 1.9 MB
  const Problem<double> p = make_problem<double>(602, big);
  Context cuda(Device::cuda(0));
  const auto first = linear_regression_fit<double>(cuda, {}, p.x(), p.y());
  const size_t held = free_device_bytes();
  cuda.trim_scratch();
  const size_t trimmed = free_device_bytes();
  EXPECT_GE(trimmed, held + (size_t{1} << 20)) << "the large scratch was not given back";
  expect_same_model(linear_regression_fit<double>(cuda, {}, p.x(), p.y()), first, 0.0);

  const Problem<double> small = make_problem<double>(603, Spec{});
  cuda.trim_scratch();
  (void)linear_regression_fit<double>(cuda, {}, small.x(), small.y());
  const size_t kept = free_device_bytes();
  cuda.trim_scratch();
  EXPECT_EQ(free_device_bytes(), kept) << "a small scratch was given back";
}
#endif

TEST(CudaBackendTest, BuildInfoNamesTheToolkit) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  const BuildInfo info = build_info();
  EXPECT_TRUE(info.cuda_built);
  EXPECT_FALSE(info.cuda_version.empty());
  EXPECT_NE(info.cuda_version.find('.'), std::string::npos) << info.cuda_version;
}

}  // namespace
}  // namespace gpulearn::linear_model
