// The CPU sparse primitives (src/sparse/primitives.hpp) against the same products computed
// densely in long double, on random CSR matrices with empty rows, empty columns, unsorted
// indices, explicit zeros and a row block (block_rows with indptr[0] != 0); and their results
// the same bits with 1 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "gpulearn/cluster/kmeans.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/sparse.hpp"
#include "gpulearn/decomposition/truncated_svd.hpp"
#include "random_csr.hpp"
#include "sparse/primitives.hpp"
#include "test_util.hpp"

namespace gpulearn {
namespace {

// The shared random CSR matrix (random_csr.hpp) and its dense form in long double.
template <typename T>
struct RandomCsr : test_util::RandomCsr<T> {
  std::vector<long double> dense;  // rows x cols

  RandomCsr(int64_t n, int64_t d, double density, uint64_t seed)
      : test_util::RandomCsr<T>(n, d, density, seed), dense(n * d, 0) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t q = this->indptr[i]; q < this->indptr[i + 1]; ++q) {
        dense[i * d + this->indices[q]] = this->values[q];
      }
    }
  }
  CsrView<T> view() const { return this->host_view(); }
};

template <typename T>
double tol() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-13;
}

template <typename T>
class SparseCpu : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SparseCpu, Types);

TYPED_TEST(SparseCpu, MatchesDenseArithmetic) {
  using T = TypeParam;
  const int64_t n = 2600, d = 37, l = 5;
  const RandomCsr<T> A(n, d, 0.15, 5);
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g;
  std::vector<T> w(n), B(d * l), M(n * l);
  for (T& v : w) v = static_cast<T>(std::abs(g(rng)));
  for (T& v : B) v = static_cast<T>(g(rng));
  for (T& v : M) v = static_cast<T>(g(rng));
  // A block of rows [begin, begin + m): a view whose indptr does not start at 0.
  const int64_t begin = 1100, m = 1300;
  for (int threads : {1, 3}) {
    auto be = detail::make_cpu_backend(threads);
    auto& sp = be->primitives<detail::SparsePrimitives<T>>();
    for (bool block : {false, true}) {
      const CsrView<T> X = block ? A.view().block_rows(begin, m) : A.view();
      const int64_t r0 = block ? begin : 0, rn = block ? m : n;
      const VectorView<const T> wv(w.data() + r0, rn);
      auto x = [&](int64_t i, int64_t j) { return A.dense[(r0 + i) * d + j]; };

      long double amax = 0;
      for (int64_t i = 0; i < rn; ++i)
        for (int64_t j = 0; j < d; ++j) amax = std::max(amax, std::abs(x(i, j)));
      EXPECT_EQ(sp.max_abs(X), static_cast<T>(amax));

      std::vector<double> sums(d);
      sp.column_sums(X, wv, sums.data());
      for (int64_t j = 0; j < d; ++j) {
        long double s = 0, a = 0;
        for (int64_t i = 0; i < rn; ++i) {
          s += w[r0 + i] * x(i, j);
          a += std::abs(w[r0 + i] * x(i, j));
        }
        EXPECT_NEAR(sums[j], static_cast<double>(s), 1e-14 * static_cast<double>(a) + 1e-300);
      }
      EXPECT_EQ(sums[2], 0.0);

      std::vector<T> sq(rn);
      sp.row_norms_sq(X, sq.data());
      for (int64_t i = 0; i < rn; ++i) {
        long double s = 0;
        for (int64_t j = 0; j < d; ++j) s += x(i, j) * x(i, j);
        EXPECT_NEAR(sq[i], static_cast<double>(s), tol<T>() * static_cast<double>(s) + 1e-300);
      }

      std::vector<double> gram(d * d);
      sp.gram(X, wv, gram.data());
      for (int64_t j = 0; j < d; ++j) {
        for (int64_t k = 0; k < d; ++k) {
          long double s = 0, a = 0;
          for (int64_t i = 0; i < rn; ++i) {
            s += w[r0 + i] * x(i, j) * x(i, k);
            a += std::abs(w[r0 + i] * x(i, j) * x(i, k));
          }
          EXPECT_NEAR(gram[j * d + k], static_cast<double>(s), 1e-14 * static_cast<double>(a));
          EXPECT_EQ(gram[j * d + k], gram[k * d + j]);  // both triangles, the same bits
        }
      }

      std::vector<T> prod(rn * (l + 2), T(-7));  // stride l + 2: the padding is not written
      sp.multiply(X, B.data(), l, MatrixView<T>(prod.data(), rn, l, l + 2));
      for (int64_t i = 0; i < rn; ++i) {
        for (int64_t c = 0; c < l; ++c) {
          long double s = 0, a = 0;
          for (int64_t j = 0; j < d; ++j) {
            s += x(i, j) * B[j * l + c];
            a += std::abs(x(i, j) * B[j * l + c]);
          }
          EXPECT_NEAR(prod[i * (l + 2) + c], static_cast<double>(s),
                      tol<T>() * static_cast<double>(a) + 1e-300);
        }
        EXPECT_EQ(prod[i * (l + 2) + l], T(-7));
      }

      std::vector<double> xtm(d * l);
      sp.multiply_t(X, MatrixView<const T>(M.data() + r0 * l, rn, l), wv, xtm.data());
      for (int64_t j = 0; j < d; ++j) {
        for (int64_t c = 0; c < l; ++c) {
          long double s = 0, a = 0;
          for (int64_t i = 0; i < rn; ++i) {
            s += w[r0 + i] * x(i, j) * M[(r0 + i) * l + c];
            a += std::abs(w[r0 + i] * x(i, j) * M[(r0 + i) * l + c]);
          }
          EXPECT_NEAR(xtm[j * l + c], static_cast<double>(s), 1e-14 * static_cast<double>(a));
        }
      }

      const std::vector<int64_t> idx = {rn - 1, 3, 0, 3};
      std::vector<T> rows_out(idx.size() * d, T(-1));
      sp.gather_rows(X, idx.data(), static_cast<int64_t>(idx.size()), rows_out.data());
      for (size_t r = 0; r < idx.size(); ++r)
        for (int64_t j = 0; j < d; ++j)
          EXPECT_EQ(rows_out[r * d + j], static_cast<T>(x(idx[r], j)));
    }
  }
}

TYPED_TEST(SparseCpu, SameBitsWithAnyThreadCount) {
  using T = TypeParam;
  const int64_t n = 50000, d = 300, l = 3;
  const RandomCsr<T> A(n, d, 0.02, 17);
  std::vector<T> B(d * l, T(0.25)), M(n * l);
  for (int64_t i = 0; i < n * l; ++i) M[i] = static_cast<T>(std::sin(0.1 * i));
  std::vector<double> g1(d * d), g3(d * d), s1(d), s3(d), t1(d * l), t3(d * l);
  auto run = [&](int threads, std::vector<double>& g, std::vector<double>& s,
                 std::vector<double>& t) {
    auto be = detail::make_cpu_backend(threads);
    auto& sp = be->primitives<detail::SparsePrimitives<T>>();
    sp.gram(A.view(), {}, g.data());
    sp.column_sums(A.view(), {}, s.data());
    sp.multiply_t(A.view(), MatrixView<const T>(M.data(), n, l), {}, t.data());
  };
  run(1, g1, s1, t1);
  run(3, g3, s3, t3);
  EXPECT_EQ(g1, g3);
  EXPECT_EQ(s1, s3);
  EXPECT_EQ(t1, t3);
}

TEST(SparseCpu, NonFiniteValuesAreMeasuredAsInfinity) {
  std::vector<double> values = {1.0, std::numeric_limits<double>::quiet_NaN(), -3.0};
  std::vector<int32_t> indices = {0, 1, 0};
  std::vector<int64_t> indptr = {0, 2, 3};
  auto be = detail::make_cpu_backend(2);
  auto& sp = be->primitives<detail::SparsePrimitives<double>>();
  const CsrView<double> X(values.data(), indices.data(), indptr.data(), 2, 2);
  EXPECT_TRUE(std::isinf(sp.max_abs(X)));
  EXPECT_EQ(sp.max_abs(X.block_rows(1, 1)), 3.0);
  values[1] = -std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isinf(sp.max_abs(X)));
}

TEST(SparseCsrView, RefusesBadStructure) {
  std::vector<double> values = {1.0, 2.0};
  std::vector<int32_t> indices = {0, 5};
  std::vector<int64_t> indptr = {0, 1, 2};
  EXPECT_THROW(check_csr_structure(CsrView<double>(values.data(), indices.data(), indptr.data(),
                                                   2, 3)),
               InvalidArgument);  // column 5 of 3
  indices[1] = 1;
  EXPECT_EQ(check_csr_structure(CsrView<double>(values.data(), indices.data(), indptr.data(), 2,
                                                3)),
            2);
  indptr = {0, 2, 1};
  EXPECT_THROW(check_csr_structure(CsrView<double>(values.data(), indices.data(), indptr.data(),
                                                   2, 3)),
               InvalidArgument);  // offsets decrease
  indptr = {0, 1, 3};
  EXPECT_THROW(check_csr_structure(
                   CsrView<double>(values.data(), indices.data(), indptr.data(), 2, 3), 2),
               InvalidArgument);  // past the stored entries
  EXPECT_THROW(CsrView<double>(values.data(), indices.data(), indptr.data(), 2,
                               int64_t{1} << 31),
               InvalidArgument);  // column indices past int32
}

// The check runs branch-free passes first and names the violation only after: each kind of
// violation, at the start, the middle and the end of a longer matrix (the vectorised pass's
// remainder included), is still found and named.
TEST(SparseCsrView, NamesTheFirstViolationWhereverItIs) {
  const int64_t n = 37, cols = 11;
  std::vector<double> values(n * 3, 1.0);
  std::vector<int32_t> indices(n * 3);
  std::vector<int64_t> indptr(n + 1);
  for (int64_t i = 0; i <= n; ++i) indptr[i] = 3 * i;
  for (int64_t p = 0; p < n * 3; ++p) indices[p] = static_cast<int32_t>(p % cols);
  auto message = [&]() -> std::string {
    try {
      check_csr_structure(
          CsrView<double>(values.data(), indices.data(), indptr.data(), n, cols));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message(), "");
  for (const int64_t at : {int64_t{0}, n * 3 / 2, n * 3 - 1}) {
    for (const int32_t bad : {int32_t{-1}, static_cast<int32_t>(cols), int32_t{1} << 30}) {
      indices[at] = bad;
      EXPECT_NE(message().find("sparse matrix column index " + std::to_string(bad) +
                               " is out of range for 11 columns"),
                std::string::npos)
          << at << " " << bad;
      indices[at] = 0;
    }
  }
  for (const int64_t row : {int64_t{1}, n / 2, n - 1}) {
    const int64_t keep = indptr[row];
    indptr[row] = indptr[row + 1] + 1;  // row - 1 ends after row ends
    EXPECT_NE(message().find("sparse matrix indptr decreases at row " + std::to_string(row)),
              std::string::npos)
        << row;
    indptr[row] = keep;
  }
  indptr[0] = -1;
  EXPECT_NE(message().find("sparse matrix indptr starts at -1"), std::string::npos);
}

// Every C++ entry point that reads a host CSR matrix checks its structure before any pass does
// (NativeCsr does it): an out-of-range column index or decreasing offsets are an
// InvalidArgument, never an out-of-bounds read (ASan would report one here).
TEST(SparseEntryPoints, RefuseABadStructureBeforeReadingIt) {
  Context ctx{Device::cpu()};
  std::vector<double> values = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int32_t> indices = {0, 1, 2, 3, 4, 0, 1, 2};
  std::vector<int64_t> indptr = {0, 2, 3, 5, 6, 7, 8};
  const int64_t n = 6, d = 5;
  cluster::KMeansModel<double> km;
  km.n_clusters = 2;
  km.n_features = d;
  km.centers.assign(2 * d, 0.5);
  decomposition::TruncatedSvdModel<double> svd;
  svd.n_features = d;
  svd.n_components = 2;
  svd.components.assign(2 * d, 0.1);
  std::vector<int32_t> labels(n);
  std::vector<double> out(n * 2);
  cluster::KMeansParams kp;
  kp.n_clusters = 2;
  auto every_call = [&](const CsrView<double>& X) {
    return std::vector<std::function<void()>>{
        [&, X] { cluster::kmeans_fit<double>(ctx, kp, X, VectorView<const double>(), nullptr, labels.data()); },
        [&, X] { cluster::kmeans_predict(ctx, km, X, VectorView<const double>(), labels.data()); },
        [&, X] { cluster::kmeans_sq_distances(ctx, km, X, MatrixView<double>(out.data(), n, 2)); },
        [&, X] { decomposition::truncated_svd_fit(ctx, decomposition::TruncatedSvdParams{}, X); },
        [&, X] {
          decomposition::truncated_svd_transform(ctx, svd, X,
                                                 MatrixView<double>(out.data(), n, 2));
        },
    };
  };
  const CsrView<double> good(values.data(), indices.data(), indptr.data(), n, d);
  for (auto& call : every_call(good)) EXPECT_NO_THROW(call());
  indices[6] = 9;  // column 9 of 5
  const CsrView<double> bad_index(values.data(), indices.data(), indptr.data(), n, d);
  int i = 0;
  for (auto& call : every_call(bad_index)) {
    EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(call, {"column index 9", "5 columns"}))
        << "call " << i++;
  }
  indices[6] = 1;
  indptr[3] = 1;  // offsets decrease after row 2 (indptr[3] < indptr[2])
  const CsrView<double> bad_offsets(values.data(), indices.data(), indptr.data(), n, d);
  i = 0;
  for (auto& call : every_call(bad_offsets)) {
    EXPECT_TRUE(test_util::ThrowsWith<InvalidArgument>(call, {"indptr decreases at row 2"}))
        << "call " << i++;
  }
}

}  // namespace
}  // namespace gpulearn
