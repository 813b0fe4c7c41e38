// Reduced distances: what the nearest-neighbour primitives rank by (smaller is closer) and how
// both backends compute them exactly. One definition, compiled by g++ and by nvcc (host and
// device), so the CPU and CUDA backends return the same numbers for the same pairs.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#ifdef __CUDACC__
#define GPULEARN_RDIST_FN __host__ __device__ inline
#else
#define GPULEARN_RDIST_FN inline
#endif

namespace gpulearn::detail {

enum class Rdist {
  kSqEuclidean,      // sum (q - x)^2            (Euclidean: its square root)
  kManhattan,        // sum |q - x|
  kChebyshev,        // max |q - x|
  kMinkowski,        // sum |q - x|^p            (Minkowski: its p-th root)
  kCosine,           // 1 - q.x / (|q| |x|) in [0, 2]; 1 when q or x is zero
  kNegInnerProduct,  // -q.x                     (inner product: its negative)
};

struct RdistSpec {
  Rdist kind = Rdist::kSqEuclidean;
  double p = 2;  // kMinkowski's power
};

/// Whether the backends compute this metric from a GEMM (q.x plus norms) rather than directly.
GPULEARN_RDIST_FN bool rdist_uses_gemm(Rdist kind) {
  return kind == Rdist::kSqEuclidean || kind == Rdist::kCosine || kind == Rdist::kNegInnerProduct;
}

/// Cosine distance from the dot product and the squared norms, as scikit-learn's
/// cosine_distances: 1 for a zero vector, clipped to [0, 2].
GPULEARN_RDIST_FN double cosine_from_dot(double dot, double qn, double xn) {
  if (!(qn > 0) || !(xn > 0)) return 1.0;
  const double v = 1.0 - dot / (std::sqrt(qn) * std::sqrt(xn));
  return v < 0.0 ? 0.0 : (v > 2.0 ? 2.0 : v);
}

/// The reduced distance of row q (d contiguous entries) and the row whose entry l is x_at(l),
/// called once for each l in ascending order, computed directly in double: one definition for
/// a dense row and a CSR row walked in column order (the same operations, so the same bits).
template <typename T, typename XAt>
GPULEARN_RDIST_FN double exact_rdist_with(RdistSpec m, const T* q, int64_t d, XAt&& x_at) {
  double acc = 0, qn = 0, xn = 0;
  for (int64_t l = 0; l < d; ++l) {
    const double a = q[l], b = x_at(l);
    switch (m.kind) {
      case Rdist::kSqEuclidean:
        acc += (a - b) * (a - b);
        break;
      case Rdist::kManhattan:
        acc += std::fabs(a - b);
        break;
      case Rdist::kChebyshev:
        acc = std::fmax(acc, std::fabs(a - b));
        break;
      case Rdist::kMinkowski:
        acc += std::pow(std::fabs(a - b), m.p);
        break;
      case Rdist::kCosine:
      case Rdist::kNegInnerProduct:
        acc += a * b;
        qn += a * a;
        xn += b * b;
        break;
    }
  }
  if (m.kind == Rdist::kCosine) return cosine_from_dot(acc, qn, xn);
  if (m.kind == Rdist::kNegInnerProduct) return -acc;
  return acc;
}

/// The reduced distance of rows q and x (d contiguous entries each), computed directly in double.
template <typename T>
GPULEARN_RDIST_FN double exact_rdist(RdistSpec m, const T* q, const T* x, int64_t d) {
  return exact_rdist_with(m, q, d, [x](int64_t l) { return static_cast<double>(x[l]); });
}

/// The largest reduced distance computed in T (by the GEMM expansion or a direct loop in T)
/// that a pair whose exact reduced distance is <= bound can show: radius searches screen on
/// it, then keep the pairs whose exact distance passes. norms_sum is |q|^2 + |x|^2 (read for
/// kSqEuclidean only). The margins are the worst-case rounding of a d-term sum, doubled.
template <typename T>
GPULEARN_RDIST_FN double rdist_screen_bound(RdistSpec m, double bound, int64_t d,
                                            double norms_sum) {
  const double eps = std::numeric_limits<T>::epsilon();
  const double terms = static_cast<double>(d) + 8.0;
  switch (m.kind) {
    case Rdist::kSqEuclidean:
      return bound + 2.0 * terms * eps * (norms_sum + bound);
    case Rdist::kCosine:
    case Rdist::kNegInnerProduct:
      return bound + 8.0 * terms * eps;
    case Rdist::kMinkowski:
      return bound * (1.0 + 2.0 * (terms + 4.0 * m.p) * eps) +
             static_cast<double>(std::numeric_limits<T>::denorm_min());
    default:
      return bound * (1.0 + 2.0 * terms * eps) +
             static_cast<double>(std::numeric_limits<T>::denorm_min());
  }
}

}  // namespace gpulearn::detail

#undef GPULEARN_RDIST_FN
