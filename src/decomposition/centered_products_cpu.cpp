// CPU primitive of the decomposition drivers: products with the centred data in fixed row
// partitions, each chunk's product in T (Eigen's blocked GEMM), the partitions' sums in double,
// combined in partition order (results do not depend on the thread count).
#include <algorithm>
#include <vector>

#include "../core/cpu_backend.hpp"
#include "primitives.hpp"

namespace gpulearn::detail {

namespace {

template <typename T>
double centered_products_impl(MatrixView<const T> X, const T* mean, T scale, int64_t l, const T* Z,
                              const T* Y, double* out, int n_threads) {
  const int64_t n = X.rows, d = X.cols;
  // A d x l partial per partition in double: bounded so the partials stay under ~256 MiB.
  const int64_t per_part = std::max<int64_t>(1, checked_mul(checked_mul(d, l), int64_t{8}));
  const RowSplit split(
      n, 2048, std::min(kCpuMaxParts, std::max<int64_t>(1, (int64_t{256} << 20) / per_part)));
  std::vector<RowMatrix<double>> acc(split.n_parts);
  std::vector<double> sq(split.n_parts, 0.0);
  const Eigen::Map<const RowMatrix<T>> Zm(Z, Z != nullptr ? d : 0, l);
  const Eigen::Map<const RowMatrix<T>> Ym(Y, Y != nullptr ? n : 0, l);
  parallel_for(split.n_parts, n_threads, [&](int64_t p) {
    RowMatrix<double> a = RowMatrix<double>::Zero(d, l);
    double s = 0;
    RowMatrix<T> C, P;
    const int64_t begin = split.begin(p, n), end = begin + split.count(p, n);
    for (int64_t c = begin; c < end; c += kCpuChunkRows) {
      const int64_t m = std::min(kCpuChunkRows, end - c);
      C = eigen_map(X.block_rows(c, m));
      if (mean != nullptr) {
        C.rowwise() -= Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(mean, d);
      }
      C *= scale;
      s += C.template cast<double>().squaredNorm();
      if (l == 0) continue;
      if (Z != nullptr) {
        const RowMatrix<T> CZ = C * Zm;
        P.noalias() = C.transpose() * CZ;
      } else {
        P.noalias() = C.transpose() * Ym.middleRows(c, m);
      }
      a += P.template cast<double>();
    }
    acc[p] = std::move(a);
    sq[p] = s;
  });
  Eigen::Map<RowMatrix<double>> o(out, d, l);
  o.setZero();
  double total = 0;
  for (int64_t p = 0; p < split.n_parts; ++p) {
    o += acc[p];
    total += sq[p];
  }
  return total;
}

}  // namespace

template <typename T>
class CpuDecompositionPrimitives final : public DecompositionPrimitives<T> {
 public:
  explicit CpuDecompositionPrimitives(CpuBackend& be) : be_(be) {}

  double centered_products(MatrixView<const T> X, const T* mean, T scale, int64_t l, const T* Z,
                           const T* Y, double* out) override {
    return centered_products_impl(X, mean, scale, l, Z, Y, out, be_.n_threads());
  }

 private:
  CpuBackend& be_;
};

GPULEARN_DEFINE_FAMILY_FACTORIES(CpuBackend, DecompositionPrimitives, CpuDecompositionPrimitives)

}  // namespace gpulearn::detail
