// The CUDA kernels behind sparse LogisticRegression and KMeans (cuda/linear_model/logistic_loss.cu:
// logistic_loss_residual; cuda/cluster/kmeans_assign.cu: dots_to_sq_distances, assign_sparse)
// against the CPU backend's (src/linear_model/logistic_cpu.cpp, src/cluster/kmeans_cpu.cpp), on
// the same inputs, and each CUDA result the same bits when run again. Skipped, with the reason,
// where no CUDA device is usable.
//
// Tolerances. Per-row values computed by the same formula in double and rounded to T (residuals,
// distances, labels) are compared exactly where both sides round the same IEEE operations
// (distances, labels) and within a few ulps of T where a libm function enters (the residuals'
// exp and log1p: 1e-12 in double, 1e-6 in float). Sums over rows are in double in orders that
// differ between the backends: within kSumTolerance = 1e-12 times the sum of their terms'
// magnitudes (the bound of test_sparse_cuda.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "cluster/primitives.hpp"
#include "core/backend.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"
#include "linear_model/primitives.hpp"
#include "native_array.hpp"
#include "random_csr.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

using test_util::DeviceCsrCopy;
using test_util::kSumTolerance;
using test_util::NativeArray;
using test_util::RandomCsr;
using test_util::rounded_tolerance;

constexpr MemorySpace kDevice = MemorySpace::kDevice;

template <typename T>
class CudaSparseLogisticTest : public test_util::CpuAndCudaBackends {};
template <typename T>
class CudaSparseKMeansTest : public test_util::CpuAndCudaBackends {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaSparseLogisticTest, FloatTypes);
TYPED_TEST_SUITE(CudaSparseKMeansTest, FloatTypes);

// ---- logistic_loss_residual -------------------------------------------------------------------

template <typename T>
struct ResidualInputs {
  int64_t n, m, ld;
  std::vector<T> Z;  // n x ld, the padding -7
  std::vector<int32_t> labels;
  std::vector<T> w;  // empty: unit weights
  std::vector<double> intercept;
};

template <typename T>
ResidualInputs<T> residual_inputs(int64_t n, int64_t m, bool weighted, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  ResidualInputs<T> in{n, m, m + 2, {}, {}, {}, {}};
  in.Z.assign(n * in.ld, T(-7));
  for (int64_t i = 0; i < n; ++i) {
    // Every 50th row far out, where the naive forms of the loss overflow.
    const double scale = i % 50 == 7 ? 40.0 : 2.0;
    for (int64_t t = 0; t < m; ++t) in.Z[i * in.ld + t] = static_cast<T>(scale * g(rng));
    in.labels.push_back(static_cast<int32_t>(rng() % (m == 1 ? 2 : m)));
    if (weighted) in.w.push_back(static_cast<T>(i % 13 == 5 ? 0.0 : std::abs(g(rng)) + 0.1));
  }
  for (int64_t t = 0; t < m; ++t) in.intercept.push_back(0.3 * g(rng));
  return in;
}

template <typename T>
struct ResidualOut {
  double loss = 0;
  std::vector<T> Z;
  std::vector<double> r_sum;
};

template <typename T>
ResidualOut<T> residual_on(Backend& be, const ResidualInputs<T>& in, bool with_sum) {
  const MemorySpace native = be.native_space();
  NativeArray<T> z(be, in.Z), w(be, in.w.empty() ? std::vector<T>{T(0)} : in.w);
  NativeArray<int32_t> lab(be, in.labels);
  const VectorView<const T> wv =
      in.w.empty() ? VectorView<const T>() : VectorView<const T>(w.data(), in.n, 1, native);
  ResidualOut<T> out;
  out.r_sum.assign(in.m, -1.0);
  out.loss = be.primitives<LinearModelPrimitives<T>>().logistic_loss_residual(
      MatrixView<T>(z.data(), in.n, in.m, in.ld, native), lab.data(), wv, in.intercept.data(),
      with_sum ? out.r_sum.data() : nullptr);
  out.Z = z.read();
  return out;
}

template <typename T>
void compare_residuals(Backend& cpu, Backend& cuda, int64_t n, int64_t m, bool weighted,
                       uint64_t seed) {
  const ResidualInputs<T> in = residual_inputs<T>(n, m, weighted, seed);
  double w_sum = 0;
  for (int64_t i = 0; i < n; ++i) w_sum += weighted ? static_cast<double>(in.w[i]) : 1.0;
  for (bool with_sum : {true, false}) {
    SCOPED_TRACE("n " + std::to_string(n) + ", m " + std::to_string(m) +
                 (weighted ? ", weighted" : ", unweighted") +
                 (with_sum ? ", with r_sum" : ", no r_sum"));
    const ResidualOut<T> want = residual_on(cpu, in, with_sum);
    const ResidualOut<T> got = residual_on(cuda, in, with_sum);
    EXPECT_NEAR(got.loss, want.loss, kSumTolerance * std::abs(want.loss) + 1e-300);
    ASSERT_EQ(got.Z.size(), want.Z.size());
    int reported = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < in.ld; ++c) {
        const T a = got.Z[i * in.ld + c], b = want.Z[i * in.ld + c];
        const bool ok = c < m ? std::abs(static_cast<double>(a) - b) <= rounded_tolerance<T>()
                              : a == T(-7);  // the padding untouched
        if (!ok && reported++ < 5) {
          ADD_FAILURE() << "Z[" << i << "][" << c << "]: " << a << " vs the CPU's " << b;
        }
      }
    }
    if (with_sum) {
      for (int64_t t = 0; t < m; ++t) {
        EXPECT_NEAR(got.r_sum[t], want.r_sum[t], kSumTolerance * w_sum) << "r_sum[" << t << "]";
      }
    } else {
      EXPECT_EQ(got.r_sum, std::vector<double>(m, -1.0)) << "r_sum written when not asked for";
    }
    const ResidualOut<T> again = residual_on(cuda, in, with_sum);
    EXPECT_EQ(again.loss, got.loss) << "loss not reproducible";
    EXPECT_EQ(again.Z, got.Z) << "residuals not reproducible";
    EXPECT_EQ(again.r_sum, got.r_sum) << "r_sum not reproducible";
  }
}

TYPED_TEST(CudaSparseLogisticTest, LossResidualMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  for (bool weighted : {true, false}) {
    compare_residuals<T>(this->cpu(), this->cuda(), 1, 1, weighted, 1);
    compare_residuals<T>(this->cpu(), this->cuda(), 2500, 1, weighted, 2);  // binomial, 10 blocks
    compare_residuals<T>(this->cpu(), this->cuda(), 2500, 4, weighted, 3);  // multinomial
    compare_residuals<T>(this->cpu(), this->cuda(), 37, 2, weighted, 4);
  }
}

TYPED_TEST(CudaSparseLogisticTest, LossResidualOfNoRowsIsZero) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  std::vector<double> r_sum(3, -1.0), b(3, 0.5);
  const double loss =
      this->cuda().template primitives<LinearModelPrimitives<T>>().logistic_loss_residual(
          MatrixView<T>(nullptr, 0, 3, 3, kDevice), nullptr, {}, b.data(), r_sum.data());
  EXPECT_EQ(loss, 0.0);
  EXPECT_EQ(r_sum, std::vector<double>(3, 0.0));
}

TYPED_TEST(CudaSparseLogisticTest, LossResidualRefusesHostPredictions) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  std::vector<T> Z(4, T(0));
  const std::vector<int32_t> labels = {0, 1, 0, 1};
  const std::vector<double> b = {0.0};
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] {
        this->cuda().template primitives<LinearModelPrimitives<T>>().logistic_loss_residual(
            MatrixView<T>(Z.data(), 4, 1, 1, MemorySpace::kHost), labels.data(), {}, b.data(),
            nullptr);
      },
      {"device memory"}));
}

// ---- dots_to_sq_distances ---------------------------------------------------------------------

TYPED_TEST(CudaSparseKMeansTest, DotsToSqDistancesMatchCpuExactly) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const int64_t n = 700, k = 5, ld = k + 1;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g;
  std::vector<T> D(n * ld, T(-7)), x_sq(n);
  std::vector<double> c_sq(k);
  for (int64_t j = 0; j < k; ++j) c_sq[j] = std::abs(g(rng)) * 3;
  for (int64_t i = 0; i < n; ++i) {
    x_sq[i] = static_cast<T>(std::abs(g(rng)) * 3);
    // Some products large enough that the expansion goes negative: clamped to 0.
    for (int64_t j = 0; j < k; ++j) D[i * ld + j] = static_cast<T>(g(rng) * (i % 9 == 0 ? 5 : 1));
  }
  auto run = [&](Backend& be) {
    NativeArray<T> d(be, D), xs(be, x_sq);
    be.primitives<ClusterPrimitives<T>>().dots_to_sq_distances(
        VectorView<const T>(xs.data(), n, 1, be.native_space()), c_sq.data(),
        MatrixView<T>(d.data(), n, k, ld, be.native_space()));
    return d.read();
  };
  const std::vector<T> want = run(this->cpu()), got = run(this->cuda());
  EXPECT_EQ(got, want);  // one IEEE expression in double, rounded once: the same bits
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) zeros += got[i * ld + j] == T(0);
    EXPECT_EQ(got[i * ld + k], T(-7)) << "padding of row " << i;
  }
  EXPECT_GT(zeros, 0) << "no clamped distance: the case does not test the clamp";
}

// ---- assign_sparse ----------------------------------------------------------------------------

struct AssignCase {
  bool weighted = true, with_sums = true, with_weights = true, with_dist = true;
};

template <typename T>
struct AssignOut {
  KMeansStepStats stats;
  std::vector<int32_t> labels;
  std::vector<T> dist;
  std::vector<double> sums, weights;
};

// Runs assign_sparse of `be` over X (rows r0 .. r0 + X.rows of the full problem) with the
// full-length host D (n x k), labels and w. sums and weights start at known non-zero values:
// the primitive adds to them.
template <typename T>
AssignOut<T> assign_on(Backend& be, CsrView<T> X, int64_t r0, int64_t k, const std::vector<T>& D,
                       const std::vector<int32_t>& labels, const std::vector<T>& w,
                       const AssignCase& c) {
  const MemorySpace native = be.native_space();
  const int64_t n = X.rows, d = X.cols;
  const std::vector<T> Db(D.begin() + r0 * k, D.begin() + (r0 + n) * k);
  const std::vector<int32_t> lb(labels.begin() + r0, labels.begin() + r0 + n);
  const std::vector<T> wb(w.begin() + r0, w.begin() + r0 + n);
  NativeArray<T> dn(be, Db), wn(be, wb), dist(be, std::vector<T>(n, T(-1)));
  NativeArray<int32_t> lab(be, lb);
  AssignOut<T> out;
  out.sums.resize(k * d);
  for (int64_t e = 0; e < k * d; ++e) out.sums[e] = 0.25 * static_cast<double>(e % 7);
  out.weights.assign(k, 1.5);
  out.stats = be.primitives<ClusterPrimitives<T>>().assign_sparse(
      MatrixView<const T>(dn.data(), n, k, k, native), X,
      c.weighted ? VectorView<const T>(wn.data(), n, 1, native) : VectorView<const T>(), lab.data(),
      c.with_dist ? dist.data() : nullptr, c.with_sums ? out.sums.data() : nullptr,
      c.with_weights ? out.weights.data() : nullptr);
  out.labels = lab.read();
  out.dist = dist.read();
  return out;
}

template <typename T>
void compare_assign(Backend& cpu, Backend& cuda, int64_t n, int64_t d, int64_t k, double density,
                    uint64_t seed) {
  const RandomCsr<T> A(n, d, density, seed);
  const DeviceCsrCopy<T> Xd(cuda, A);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> g;
  std::vector<T> D(n * k), w(n);
  std::vector<int32_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) D[i * k + j] = static_cast<T>(std::abs(g(rng)) + 0.01);
    if (k > 3 && i % 5 == 1) D[i * k + 3] = D[i * k + 1] = T(0.001);  // a tie: the lower index
    if (i % 11 == 4) std::fill_n(&D[i * k], k, T(2));                 // all tied: 0
    labels[i] = static_cast<int32_t>(rng() % (k + 1)) - 1;            // -1: not yet assigned
    w[i] = static_cast<T>(i % 17 == 3 ? 0.0 : std::abs(g(rng)) + 0.1);
  }
  const int64_t begin = n / 3, m = n - n / 3 - n / 5;
  const std::vector<AssignCase> cases = {{true, true, true, true},
                                         {false, true, true, false},
                                         {true, false, true, true},
                                         {true, true, false, true},
                                         {true, false, false, false}};
  for (bool block : {false, true}) {
    const int64_t r0 = block ? begin : 0, rn = block ? m : n;
    const CsrView<T> Xh = block ? A.host_view().block_rows(begin, m) : A.host_view();
    const CsrView<T> Xc = block ? Xd.view().block_rows(begin, m) : Xd.view();
    // The scale of each sum: the initial value plus the magnitudes of its terms.
    const AssignOut<T> ref = assign_on<T>(cpu, Xh, r0, k, D, labels, w, AssignCase{});
    for (const AssignCase& c : cases) {
      SCOPED_TRACE("n " + std::to_string(n) + ", d " + std::to_string(d) + ", k " +
                   std::to_string(k) + (block ? ", row block" : ", all rows") +
                   (c.weighted ? ", weighted" : ", unweighted") + (c.with_sums ? ", sums" : "") +
                   (c.with_weights ? ", weights" : "") + (c.with_dist ? ", distances" : ""));
      const AssignOut<T> want = assign_on<T>(cpu, Xh, r0, k, D, labels, w, c);
      const AssignOut<T> got = assign_on<T>(cuda, Xc, r0, k, D, labels, w, c);
      EXPECT_EQ(got.labels, want.labels);
      EXPECT_EQ(got.dist, want.dist);
      EXPECT_EQ(got.stats.changed, want.stats.changed);
      EXPECT_NEAR(got.stats.inertia, want.stats.inertia, kSumTolerance * want.stats.inertia);
      std::vector<double> scale(k * d, 0.0), w_scale(k, 1.5);
      for (int64_t e = 0; e < k * d; ++e) scale[e] = 0.25 * static_cast<double>(e % 7);
      for (int64_t i = 0; i < rn; ++i) {
        const int64_t row = r0 + i, j = want.labels[i];
        const double wi = c.weighted ? static_cast<double>(w[row]) : 1.0;
        w_scale[j] += wi;
        for (int64_t q = A.indptr[row]; q < A.indptr[row + 1]; ++q) {
          scale[j * d + A.indices[q]] += wi * std::abs(static_cast<double>(A.values[q]));
        }
      }
      for (int64_t e = 0; e < k * d; ++e) {
        ASSERT_NEAR(got.sums[e], want.sums[e], kSumTolerance * scale[e]) << "sums[" << e << "]";
      }
      for (int64_t j = 0; j < k; ++j) {
        ASSERT_NEAR(got.weights[j], want.weights[j], kSumTolerance * w_scale[j])
            << "weights[" << j << "]";
      }
      if (c.with_sums && d > 2) {  // column 2 is empty: its sums keep their initial values
        for (int64_t j = 0; j < k; ++j) EXPECT_EQ(got.sums[j * d + 2], 0.25 * ((j * d + 2) % 7));
      }
      const AssignOut<T> again = assign_on<T>(cuda, Xc, r0, k, D, labels, w, c);
      EXPECT_EQ(again.stats.inertia, got.stats.inertia) << "inertia not reproducible";
      EXPECT_EQ(again.sums, got.sums) << "sums not reproducible";
      EXPECT_EQ(again.weights, got.weights) << "weights not reproducible";
    }
    (void)ref;
  }
}

TYPED_TEST(CudaSparseKMeansTest, AssignSparseMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  compare_assign<T>(this->cpu(), this->cuda(), 300, 23, 5, 0.3, 41);
  compare_assign<T>(this->cpu(), this->cuda(), 1, 4, 2, 1.0, 42);   // one row
  compare_assign<T>(this->cpu(), this->cuda(), 60, 6, 4, 0.0, 43);  // no stored entry
  // Clusters of ~1000 rows: several row blocks of the assignment and several sum chunks (512
  // rows) per cluster, added in chunk order.
  compare_assign<T>(this->cpu(), this->cuda(), 3100, 12, 3, 0.2, 44);
}

TYPED_TEST(CudaSparseKMeansTest, AssignSparseRefusesHostX) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const RandomCsr<T> A(10, 4, 0.5, 51);
  NativeArray<T> D(this->cuda(), std::vector<T>(10 * 2, T(1)));
  NativeArray<int32_t> lab(this->cuda(), std::vector<int32_t>(10, 0));
  std::vector<double> sums(2 * 4), weights(2);
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] {
        this->cuda().template primitives<ClusterPrimitives<T>>().assign_sparse(
            MatrixView<const T>(D.data(), 10, 2, 2, kDevice), A.host_view(), {}, lab.data(),
            nullptr, sums.data(), weights.data());
      },
      {"device memory"}));
}

}  // namespace
}  // namespace gpulearn::detail
