// Small dense factorisations (d x d) on the host with Eigen.
#include "cpu_backend.hpp"

namespace gpulearn::detail {

namespace {

template <typename T>
void symmetric_eigh_impl(int64_t n, T* a, T* w, bool vectors) {
  Eigen::Map<RowMatrix<T>> A(a, n, n);
  // Eigen reads the lower triangle; the caller's matrix is symmetric anyway.
  Eigen::SelfAdjointEigenSolver<RowMatrix<T>> eig(
      A, vectors ? Eigen::ComputeEigenvectors : Eigen::EigenvaluesOnly);
  if (eig.info() != Eigen::Success) {
    GPULEARN_FAIL(Error, "symmetric eigendecomposition did not converge (n = ", n, ")");
  }
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(w, n) = eig.eigenvalues();  // ascending
  if (vectors) A = eig.eigenvectors();
}

template <typename T>
bool cholesky_solve_impl(int64_t n, T* a, int64_t k, T* b) {
  Eigen::Map<RowMatrix<T>> A(a, n, n);
  Eigen::Map<RowMatrix<T>> B(b, n, k);
  Eigen::LLT<Eigen::Ref<RowMatrix<T>>> llt(A);  // in place
  if (llt.info() != Eigen::Success) return false;
  // LLT succeeds on some numerically singular matrices; a zero or non-finite pivot is failure.
  const auto diag = llt.matrixLLT().diagonal();
  if (!(diag.array() > T(0)).all() || !diag.allFinite()) return false;
  B = llt.solve(B);
  return B.allFinite();
}

// The thin SVD by divide and conquer, on a row-major matrix: the one BDCSVD instantiation per
// type (each costs about a minute of compile time; the tall path's R is row-major for that).
template <typename T, typename M>
Eigen::BDCSVD<RowMatrix<T>> thin_svd(const M& A, int64_t m, int64_t n) {
  Eigen::BDCSVD<RowMatrix<T>> svd(A, Eigen::ComputeThinU | Eigen::ComputeThinV);
  if (svd.info() != Eigen::Success)
    GPULEARN_FAIL(Error, "SVD did not converge (", m, " x ", n, ")");
  return svd;
}

template <typename T>
void svd_impl(int64_t m, int64_t n, const T* a, T* u, T* s, T* vt) {
  const int64_t p = std::min(m, n);
  Eigen::Map<const RowMatrix<T>> A(a, m, n);
  if (m >= 4 * n && n > 0) {
    // Tall (the randomized solver's d x l bases, d up to 1e5 and more for sparse data): a
    // Householder QR first, then the n x n SVD of R, U = Q U_R, as LAPACK's gesdd does for
    // m >> n; Eigen's BDCSVD would bidiagonalise the whole m x n matrix. Measured on a 2-core
    // Xeon under load: TruncatedSVD(2, n_iter=2) on 2e5 x 2e5 sparse data (4e6 entries), whose
    // time is these SVDs, 13.2 s -> 5.4 s.
    using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    const Eigen::HouseholderQR<ColMatrix> qr{ColMatrix(A)};
    const RowMatrix<T> R = qr.matrixQR().topRows(n).template triangularView<Eigen::Upper>();
    const auto svd = thin_svd<T>(R, m, n);
    ColMatrix U = ColMatrix::Zero(m, n);
    U.topRows(n) = svd.matrixU();
    U.applyOnTheLeft(qr.householderQ());
    Eigen::Map<RowMatrix<T>>(u, m, p) = U;
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(s, p) = svd.singularValues();
    Eigen::Map<RowMatrix<T>>(vt, p, n) = svd.matrixV().transpose();
    return;
  }
  // Divide and conquer (Jacobi below 16 x 16 blocks), as LAPACK's gesdd that scikit-learn
  // calls: PCA's exact solver and the randomized solver's orthonormalisation run it on d x d
  // and d x l matrices, where Jacobi took 6.7 s at d = 550 (scikit-learn: 0.1 s).
  const auto svd = thin_svd<T>(A, m, n);
  Eigen::Map<RowMatrix<T>>(u, m, p) = svd.matrixU();
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(s, p) = svd.singularValues();
  Eigen::Map<RowMatrix<T>>(vt, p, n) = svd.matrixV().transpose();
}

}  // namespace

void CpuBackend::symmetric_eigh(int64_t n, float* a, float* w, bool vectors) {
  symmetric_eigh_impl(n, a, w, vectors);
}
void CpuBackend::symmetric_eigh(int64_t n, double* a, double* w, bool vectors) {
  symmetric_eigh_impl(n, a, w, vectors);
}
bool CpuBackend::cholesky_solve(int64_t n, float* a, int64_t k, float* b) {
  return cholesky_solve_impl(n, a, k, b);
}
bool CpuBackend::cholesky_solve(int64_t n, double* a, int64_t k, double* b) {
  return cholesky_solve_impl(n, a, k, b);
}
void CpuBackend::svd(int64_t m, int64_t n, const float* a, float* u, float* s, float* vt) {
  svd_impl(m, n, a, u, s, vt);
}
void CpuBackend::svd(int64_t m, int64_t n, const double* a, double* u, double* s, double* vt) {
  svd_impl(m, n, a, u, s, vt);
}

}  // namespace gpulearn::detail
