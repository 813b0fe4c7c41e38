// The CUDA backend's sparse primitives (cuda/sparse/sparse.cu) against the CPU backend's
// (src/sparse/sparse_cpu.cpp, itself tested against long-double arithmetic in test_sparse.cpp),
// on the same random CSR matrices: empty rows, an empty column, unsorted indices within rows,
// explicit zeros, a row block (block_rows: indptr[0] != 0), with and without weights; X in
// device memory (the contract) and in host memory (copied by the primitive); and each CUDA
// result the same bits when run again. Skipped, with the reason, where no CUDA device is usable.
//
// Tolerances. Both backends sum every reduction in double, over the same terms, in orders that
// differ (the CPU in fixed row partitions, CUDA per column in row order; the GPU may also fuse a
// multiply-add): each sum agrees within kSumTolerance = 1e-12 times the sum of its terms'
// magnitudes (measured: under 1e-15 on the emulator; the bound leaves room for the order and
// for FMA on hardware). Results rounded to T (row norms, X B) agree within that plus half an ulp
// of T: 1e-12 relative in double, 1e-6 in float. max_abs and gather_rows are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/backend.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"
#include "native_array.hpp"
#include "random_csr.hpp"
#include "sparse/primitives.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

using test_util::DeviceCsrCopy;
using test_util::NativeArray;
using test_util::kSumTolerance;
using test_util::RandomCsr;
using test_util::rounded_tolerance;

constexpr MemorySpace kHost = MemorySpace::kHost;
constexpr MemorySpace kDevice = MemorySpace::kDevice;

// Every primitive's result on one input.
template <typename T>
struct Results {
  T max_abs = 0;
  std::vector<double> sums, gram, xta;
  std::vector<T> sq, prod, rows;
};

struct Inputs {
  int64_t l = 0;
  bool weighted = true;
  std::vector<int64_t> gather;
};

// Runs every primitive of `be` on X (rows r0 .. r0 + X.rows of the full problem). w and A are
// full-length host arrays; on a device backend they are copied to device memory first, A with
// a padded stride, and X B is written with a padded stride whose padding must stay untouched.
template <typename T>
Results<T> run_all(Backend& be, CsrView<T> X, int64_t r0, const std::vector<T>& w,
                   const std::vector<T>& B, const std::vector<T>& A, const Inputs& in) {
  auto& sp = be.primitives<SparsePrimitives<T>>();
  const bool device = be.native_space() == kDevice;
  const MemorySpace native = be.native_space();
  const int64_t n = X.rows, d = X.cols, l = in.l, pad = 3, lda = l + pad, ldo = l + 2;
  // w and A (padded) in native memory; the rows r0 .. r0 + n of them.
  std::vector<T> a_padded(static_cast<size_t>(std::max<int64_t>(1, (r0 + n) * lda)), T(NAN));
  for (int64_t i = 0; i < r0 + n; ++i) {
    for (int64_t c = 0; c < l; ++c) a_padded[i * lda + c] = A[i * l + c];
  }
  NativeArray<T> w_n(be, w), a_n(be, a_padded);
  const VectorView<const T> wv =
      in.weighted ? VectorView<const T>(w_n.data() + r0, n, 1, native) : VectorView<const T>();
  const MatrixView<const T> av(a_n.data() + r0 * lda, n, l, lda, native);

  Results<T> r;
  r.max_abs = sp.max_abs(X);
  r.sums.assign(d, -1.0);
  sp.column_sums(X, wv, r.sums.data());
  NativeArray<T> sq_n(be, std::vector<T>(std::max<int64_t>(1, n), T(-1)));
  sp.row_norms_sq(X, sq_n.data());
  r.sq = sq_n.read();
  r.sq.resize(n);
  r.gram.assign(d * d, -1.0);
  sp.gram(X, wv, r.gram.data());
  NativeArray<T> prod_n(be, std::vector<T>(std::max<int64_t>(1, n * ldo), T(-7)));
  sp.multiply(X, B.data(), l, MatrixView<T>(prod_n.data(), n, l, ldo, native));
  r.prod = prod_n.read();
  r.prod.resize(n * ldo);
  r.xta.assign(d * l, -1.0);
  sp.multiply_t(X, av, wv, r.xta.data());
  const int64_t t = static_cast<int64_t>(in.gather.size());
  r.rows.assign(t * d, T(-1));
  sp.gather_rows(X, in.gather.data(), t, r.rows.data());
  (void)device;
  return r;
}

// got within tol * scale[k] of want, entry by entry.
template <typename U>
void expect_close(const std::vector<U>& got, const std::vector<U>& want,
                  const std::vector<double>& scale, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const double err = std::abs(static_cast<double>(got[k]) - static_cast<double>(want[k]));
    if (!(err <= tol * scale[k]) && reported++ < 5) {
      ADD_FAILURE() << what << "[" << k << "]: " << got[k] << " vs the CPU's " << want[k]
                    << " (scale " << scale[k] << ")";
    }
  }
}

// The sums of the magnitudes of each output's terms (the scale its rounding error is bounded by).
template <typename T>
struct Scales {
  std::vector<double> sums, gram, xta, sq, prod;
};

template <typename T>
Scales<T> scales(const RandomCsr<T>& A, int64_t r0, int64_t n, const std::vector<T>& w,
                 const std::vector<T>& B, const std::vector<T>& M, const Inputs& in) {
  const int64_t d = A.cols, l = in.l;
  Scales<T> s;
  s.sums.assign(d, 0);
  s.gram.assign(d * d, 0);
  s.xta.assign(d * l, 0);
  s.sq.assign(n, 0);
  s.prod.assign(n * (l + 2), 0.0);  // the padding (and empty rows): exact
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = r0 + i;
    const double wi = in.weighted ? std::abs(static_cast<double>(w[row])) : 1.0;
    for (int64_t q = A.indptr[row]; q < A.indptr[row + 1]; ++q) {
      const int64_t j = A.indices[q];
      const double v = std::abs(static_cast<double>(A.values[q]));
      s.sums[j] += wi * v;
      s.sq[i] += v * v;
      for (int64_t c = 0; c < l; ++c) {
        s.xta[j * l + c] += wi * v * std::abs(static_cast<double>(M[row * l + c]));
        s.prod[i * (l + 2) + c] += v * std::abs(static_cast<double>(B[j * l + c]));
      }
      for (int64_t p = A.indptr[row]; p < A.indptr[row + 1]; ++p) {
        s.gram[j * d + A.indices[p]] += wi * v * std::abs(static_cast<double>(A.values[p]));
      }
    }
  }
  return s;
}

template <typename T>
class CudaSparseTest : public test_util::CpuAndCudaBackends {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaSparseTest, FloatTypes);

template <typename T>
void compare_on(Backend& cpu, Backend& cuda, int64_t n, int64_t d, double density, int64_t l,
                uint64_t seed) {
  const RandomCsr<T> A(n, d, density, seed);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> g;
  std::vector<T> w(std::max<int64_t>(1, n)), B(std::max<int64_t>(1, d * l)),
      M(std::max<int64_t>(1, n * l));
  for (T& v : w) v = static_cast<T>(std::abs(g(rng)) + 0.1);
  for (T& v : B) v = static_cast<T>(g(rng));
  for (T& v : M) v = static_cast<T>(g(rng));
  const DeviceCsrCopy<T> Xd(cuda, A);
  // A block of rows [begin, begin + m): indptr[0] != 0 whenever a row before it has entries.
  const int64_t begin = n / 3, m = n - n / 3 - n / 5;
  for (bool block : {false, true}) {
    for (bool weighted : {true, false}) {
      const int64_t r0 = block ? begin : 0, rn = block ? m : n;
      Inputs in;
      in.l = l;
      in.weighted = weighted;
      if (rn > 0) in.gather = {rn - 1, 0, rn / 2, 0};
      const CsrView<T> Xh = block ? A.host_view().block_rows(begin, m) : A.host_view();
      const Results<T> want = run_all<T>(cpu, Xh, r0, w, B, M, in);
      const Scales<T> sc = scales(A, r0, rn, w, B, M, in);
      for (MemorySpace space : {kDevice, kHost}) {
        const CsrView<T> Xfull = space == kDevice ? Xd.view() : A.host_view();
        const CsrView<T> X = block ? Xfull.block_rows(begin, m) : Xfull;
        const std::string what = "n " + std::to_string(n) + ", d " + std::to_string(d) +
                                 ", density " + std::to_string(density) +
                                 (block ? ", row block" : ", all rows") +
                                 (weighted ? ", weighted" : ", unweighted") +
                                 (space == kDevice ? ", device X" : ", host X");
        SCOPED_TRACE(what);
        const Results<T> got = run_all<T>(cuda, X, r0, w, B, M, in);
        EXPECT_EQ(got.max_abs, want.max_abs);
        expect_close(got.sums, want.sums, sc.sums, kSumTolerance, "column_sums");
        expect_close(got.sq, want.sq, sc.sq, rounded_tolerance<T>(), "row_norms_sq");
        expect_close(got.gram, want.gram, sc.gram, kSumTolerance, "gram");
        expect_close(got.prod, want.prod, sc.prod, rounded_tolerance<T>(), "multiply");
        expect_close(got.xta, want.xta, sc.xta, kSumTolerance, "multiply_t");
        EXPECT_EQ(got.rows, want.rows) << "gather_rows";
        for (int64_t j = 0; j < d; ++j) {  // the Gram matrix is exactly symmetric
          for (int64_t k = 0; k < j; ++k) ASSERT_EQ(got.gram[j * d + k], got.gram[k * d + j]);
        }
        if (d > 2) {  // column 2 is empty: exact zeros
          EXPECT_EQ(got.sums[2], 0.0);
          for (int64_t c = 0; c < l; ++c) EXPECT_EQ(got.xta[2 * l + c], 0.0);
        }
        // The same bits again.
        const Results<T> again = run_all<T>(cuda, X, r0, w, B, M, in);
        EXPECT_EQ(again.sums, got.sums) << "column_sums not reproducible";
        EXPECT_EQ(again.sq, got.sq) << "row_norms_sq not reproducible";
        EXPECT_EQ(again.gram, got.gram) << "gram not reproducible";
        EXPECT_EQ(again.prod, got.prod) << "multiply not reproducible";
        EXPECT_EQ(again.xta, got.xta) << "multiply_t not reproducible";
      }
    }
  }
}

TYPED_TEST(CudaSparseTest, MatchesCpuAtSeveralDensities) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  compare_on<T>(this->cpu(), this->cuda(), 300, 23, 0.3, 4, 11);
  compare_on<T>(this->cpu(), this->cuda(), 700, 40, 0.05, 3, 12);
  compare_on<T>(this->cpu(), this->cuda(), 500, 200, 0.01, 2, 13);
  compare_on<T>(this->cpu(), this->cuda(), 64, 9, 1.0, 1, 14);  // dense rows: long row segments
}

TYPED_TEST(CudaSparseTest, EmptyShapes) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  compare_on<T>(this->cpu(), this->cuda(), 50, 6, 0.0, 2, 21);  // no stored entry at all
  compare_on<T>(this->cpu(), this->cuda(), 1, 3, 1.0, 2, 22);   // one row
  compare_on<T>(this->cpu(), this->cuda(), 30, 1, 0.5, 1, 23);  // one column

  // No rows: every primitive returns its empty answer without touching X.
  auto& sp = this->cuda().template primitives<SparsePrimitives<T>>();
  const std::vector<int64_t> indptr = {0};
  NativeArray<int64_t> ptr(this->cuda(), indptr);
  const CsrView<T> X(nullptr, nullptr, ptr.data(), 0, 4, kDevice);
  EXPECT_EQ(sp.max_abs(X), T(0));
  std::vector<double> sums(4, -1.0), gram(16, -1.0), xta(8, -1.0);
  sp.column_sums(X, {}, sums.data());
  EXPECT_EQ(sums, std::vector<double>(4, 0.0));
  sp.gram(X, {}, gram.data());
  EXPECT_EQ(gram, std::vector<double>(16, 0.0));
  sp.multiply_t(X, MatrixView<const T>(nullptr, 0, 2, 2, kDevice), {}, xta.data());
  EXPECT_EQ(xta, std::vector<double>(8, 0.0));
}

TYPED_TEST(CudaSparseTest, NonFiniteValuesAreMeasuredAsInfinity) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  auto& sp = this->cuda().template primitives<SparsePrimitives<T>>();
  const std::vector<int32_t> indices = {0, 1, 0};
  const std::vector<int64_t> indptr = {0, 2, 3};
  NativeArray<int32_t> ix(this->cuda(), indices);
  NativeArray<int64_t> ptr(this->cuda(), indptr);
  for (T bad : {std::numeric_limits<T>::quiet_NaN(), -std::numeric_limits<T>::infinity()}) {
    NativeArray<T> v(this->cuda(), std::vector<T>{T(1), bad, T(-3)});
    const CsrView<T> X(v.data(), ix.data(), ptr.data(), 2, 2, kDevice);
    EXPECT_EQ(sp.max_abs(X), std::numeric_limits<T>::infinity());
    EXPECT_EQ(sp.max_abs(X.block_rows(1, 1)), T(3));  // the bad value is outside the block
  }
}

TYPED_TEST(CudaSparseTest, GatherRowsRefusesRowsOutOfRange) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const RandomCsr<T> A(10, 4, 0.5, 31);
  const DeviceCsrCopy<T> Xd(this->cuda(), A);
  auto& sp = this->cuda().template primitives<SparsePrimitives<T>>();
  const std::vector<int64_t> idx = {0, 10};
  std::vector<T> out(2 * 4);
  EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(
      [&] { sp.gather_rows(Xd.view(), idx.data(), 2, out.data()); }, {"out of range"}));
}

}  // namespace
}  // namespace gpulearn::detail
