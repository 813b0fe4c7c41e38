// The decomposition primitive of the CUDA backend (centered_products) against the CPU backend's,
// on the same inputs, through the Backend interface (X also copied to device memory with the
// backend's own allocate and copy). Skipped, with the reason, where no CUDA device is usable.
//
// Every input is drawn from a seeded std::mt19937_64 (the seed is in each test). X sits around
// an offset of 5 so that centring matters, with NaN padding (ld > d) that must never be read.
// Both backends form the same centred entries in T (elementwise, exact scale), then products in
// T per row chunk (different chunks, different GEMMs) summed in double. Tolerances on out:
// 1e-12 in double and 1e-5 in float times the scale of its terms, sum_i |xc_i|^2 |Z|_F in the
// Z form and sum_i |xc_i| |y_i| in the Y form (each bounds sum_i of |xc_ij| |xc_i . z_k| or
// |xc_ij y_ik|, the size of the sums both GEMMs round). The squared norm sums the same values
// squared in double in another order: 1e-12 relative in both types. A CUDA run repeated with
// the same chunk size must agree bit for bit.
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
#include "decomposition/primitives.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/decomposition/pca.hpp"
#include "gpulearn/decomposition/truncated_svd.hpp"
#include "native_array.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

using test_util::NativeArray;
using test_util::ScopedEnv;

constexpr MemorySpace kHost = MemorySpace::kHost;
constexpr MemorySpace kDevice = MemorySpace::kDevice;

template <typename T>
double product_tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}
constexpr double kNormTolerance = 1e-12;

struct Spec {
  int64_t n = 1000, d = 5, l = 3;
  int64_t x_pad = 0;
  bool centre = true;  // pass the column means, else no centring
  bool z_form = true;  // Xc^T (Xc Z), else Xc^T Y
  double scale = 0.5;
};

std::string describe(const Spec& s) {
  return "n " + std::to_string(s.n) + ", d " + std::to_string(s.d) + ", l " + std::to_string(s.l) +
         ", pad " + std::to_string(s.x_pad) + (s.centre ? ", centred" : ", uncentred") +
         (s.z_form ? ", Z form" : ", Y form") + ", scale " + std::to_string(s.scale);
}

template <typename T>
struct Problem {
  Spec spec;
  int64_t ld = 0;
  std::vector<T> X, mean, Z, Y;

  MatrixView<const T> x_view(const T* data, MemorySpace space) const {
    return MatrixView<const T>(data, spec.n, spec.d, ld, space);
  }
  const T* mean_ptr() const { return spec.centre ? mean.data() : nullptr; }
  const T* z_ptr() const { return spec.z_form ? Z.data() : nullptr; }
  const T* y_ptr() const { return spec.z_form ? nullptr : Y.data(); }

  // The scale of out's terms (see the header), from the centred entries in T.
  double term_scale() const {
    double z_norm = 0;
    for (T v : Z) z_norm += static_cast<double>(v) * v;
    z_norm = std::sqrt(z_norm);
    double s = 0;
    for (int64_t i = 0; i < spec.n; ++i) {
      double x2 = 0, y2 = 0;
      for (int64_t j = 0; j < spec.d; ++j) {
        const T m = spec.centre ? mean[j] : T(0);
        const double v = static_cast<T>((X[i * ld + j] - m) * static_cast<T>(spec.scale));
        x2 += v * v;
      }
      for (int64_t k = 0; k < spec.l && !spec.z_form; ++k) {
        const double v = Y[i * spec.l + k];
        y2 += v * v;
      }
      s += spec.z_form ? x2 * z_norm : std::sqrt(x2 * y2);
    }
    return std::max(s, 1e-300);
  }
};

template <typename T>
Problem<T> make_problem(uint64_t seed, const Spec& spec) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Problem<T> p;
  p.spec = spec;
  p.ld = spec.d + spec.x_pad;
  const int64_t n = spec.n, d = spec.d, l = spec.l;
  p.X.assign(std::max<int64_t>(n * p.ld, 1), std::numeric_limits<T>::quiet_NaN());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      p.X[i * p.ld + j] = static_cast<T>(5.0 + (1.0 + 0.1 * j) * normal(rng));
    }
  }
  p.mean.assign(d, T(0));
  for (int64_t j = 0; j < d && n > 0; ++j) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += p.X[i * p.ld + j];
    p.mean[j] = static_cast<T>(s / static_cast<double>(n));
  }
  p.Z.resize(std::max<int64_t>(d * l, 1));
  for (T& v : p.Z) v = static_cast<T>(normal(rng));
  p.Y.resize(std::max<int64_t>(n * l, 1));
  for (T& v : p.Y) v = static_cast<T>(normal(rng));
  return p;
}

struct Result {
  double sq_norm = 0;
  std::vector<double> out;
};

template <typename T>
Result run(Backend& be, const Problem<T>& p, const T* x_data, MemorySpace space) {
  Result r;
  r.out.assign(std::max<int64_t>(p.spec.d * p.spec.l, 1), -1.0);  // sentinels
  r.sq_norm = be.template primitives<detail::DecompositionPrimitives<T>>().centered_products(
      p.x_view(x_data, space), p.mean_ptr(), static_cast<T>(p.spec.scale), p.spec.l, p.z_ptr(),
      p.y_ptr(), r.out.data());
  return r;
}

template <typename T>
Result run_cuda(Backend& cuda, const Problem<T>& p, MemorySpace space) {
  if (space == kHost) return run(cuda, p, p.X.data(), kHost);
  const NativeArray<T> X(cuda, p.X);
  return run(cuda, p, X.data(), kDevice);
}

void expect_close(const Result& got, const Result& want, double out_tol, const std::string& what) {
  EXPECT_LE(std::abs(got.sq_norm - want.sq_norm), kNormTolerance * std::abs(want.sq_norm))
      << what << ": squared norm " << got.sq_norm << " vs " << want.sq_norm;
  test_util::expect_within(got.out, want.out, out_tol, what);
}

template <typename T>
void compare(Backend& cpu, Backend& cuda, const Problem<T>& p) {
  SCOPED_TRACE(describe(p.spec));
  const Result want = run(cpu, p, p.X.data(), kHost);
  const double tol = product_tolerance<T>() * p.term_scale();
  for (MemorySpace space : {kHost, kDevice}) {
    const std::string where = space == kHost ? "host X" : "device X";
    const Result got = run_cuda(cuda, p, space);
    expect_close(got, want, tol, where);
    const Result again = run_cuda(cuda, p, space);
    EXPECT_EQ(again.sq_norm, got.sq_norm) << where << ": not reproducible";
    EXPECT_EQ(again.out, got.out) << where << ": not reproducible";
  }
}

template <typename T>
class CudaDecompositionTest : public test_util::CpuAndCudaBackends {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaDecompositionTest, FloatTypes);

std::vector<Spec> product_specs() {
  std::vector<Spec> specs;
  auto add = [&](int64_t n, int64_t d, int64_t l, int64_t pad, double scale) {
    Spec s;
    s.n = n;
    s.d = d;
    s.l = l;
    s.x_pad = pad;
    s.scale = scale;
    specs.push_back(s);
  };
  add(1, 1, 1, 0, 1.0);
  add(7, 3, 2, 0, 0.5);
  add(1000, 5, 3, 0, 0.25);
  add(2000, 17, 9, 3, 2.0);
  add(3000, 64, 20, 1, 0.125);
  add(500, 40, 1, 0, 1.0);  // l = 1: vector products
  return specs;
}

TYPED_TEST(CudaDecompositionTest, CenteredProductsMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 3001;
  for (const Spec& base : product_specs()) {
    for (bool z_form : {true, false}) {
      for (bool centre : {true, false}) {
        Spec spec = base;
        spec.z_form = z_form;
        spec.centre = centre;
        SCOPED_TRACE("seed " + std::to_string(seed));
        compare(this->cpu(), this->cuda(), make_problem<TypeParam>(seed++, spec));
      }
    }
  }
}

TYPED_TEST(CudaDecompositionTest, CenteredProductsAcrossChunkBoundaries) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 3101;
  for (bool z_form : {true, false}) {
    Spec spec;
    spec.n = 2345;  // no cap below divides it
    spec.d = 6;
    spec.l = 4;
    spec.x_pad = 2;
    spec.z_form = z_form;
    const auto p = make_problem<TypeParam>(seed++, spec);
    for (const char* rows : {"1", "7", "300", "1000"}) {
      SCOPED_TRACE(std::string("chunk cap ") + rows);
      ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
      compare(this->cpu(), this->cuda(), p);
    }
  }
}

TYPED_TEST(CudaDecompositionTest, CenteredProductsOfNoRowsAreZero) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  for (bool z_form : {true, false}) {
    Spec spec;
    spec.n = 0;
    spec.d = 4;
    spec.l = 3;
    spec.z_form = z_form;
    const auto p = make_problem<TypeParam>(3201, spec);
    for (MemorySpace space : {kHost, kDevice}) {
      SCOPED_TRACE(describe(spec) + (space == kHost ? ", host X" : ", device X"));
      const Result got = run_cuda(this->cuda(), p, space);
      EXPECT_EQ(got.sq_norm, 0.0);
      EXPECT_EQ(got.out, std::vector<double>(spec.d * spec.l, 0.0));
    }
  }
}

TYPED_TEST(CudaDecompositionTest, CenteredProductsWithNoColumnsGiveTheNorm) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 1234;
  spec.d = 9;
  spec.l = 0;
  spec.x_pad = 1;
  const auto p = make_problem<TypeParam>(3301, spec);
  const Result want = run(this->cpu(), p, p.X.data(), kHost);
  ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", "100");
  for (MemorySpace space : {kHost, kDevice}) {
    SCOPED_TRACE(space == kHost ? "host X" : "device X");
    const Result got = run_cuda(this->cuda(), p, space);
    EXPECT_LE(std::abs(got.sq_norm - want.sq_norm), kNormTolerance * want.sq_norm)
        << got.sq_norm << " vs " << want.sq_norm;
    EXPECT_EQ(got.out, std::vector<double>{-1.0}) << "out written though it has no entries";
  }
}

// ---- The PCA and TruncatedSVD drivers on a CUDA context against a CPU context, host and
// device X. Both run the same driver over their own primitives; with a distinct spectrum
// (variances falling by 10% per component) the fitted quantities agree to 1e-9 relative in
// double and 2e-3 in float (a Gram matrix in float32 rounds eigenvalues at ~d eps of the
// largest), components entry by entry (the sign rule is the same).
template <typename T>
double model_tolerance() {
  return std::is_same_v<T, double> ? 1e-9 : 2e-3;
}

template <typename T>
std::vector<T> decaying_data(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> basis(d * d);
  for (double& b : basis) b = g(rng);
  std::vector<T> X(n * d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < d; ++c) X[i * d + c] = static_cast<T>(5.0);
    for (int64_t j = 0; j < d; ++j) {
      const double z = g(rng) * std::pow(0.9, static_cast<double>(j));
      for (int64_t c = 0; c < d; ++c) X[i * d + c] += static_cast<T>(z * basis[j * d + c]);
    }
  }
  return X;
}

template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (T v : want) scale = std::max(scale, std::abs(static_cast<double>(v)));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], model_tolerance<T>() * std::max(scale, 1e-300))
        << what << " " << i;
  }
}

TYPED_TEST(CudaDecompositionTest, PcaAndTruncatedSvdMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  using namespace gpulearn::decomposition;
  Context cpu_ctx(Device::cpu()), cuda_ctx(Device::cuda(0));
  for (auto [n, d] : {std::pair<int64_t, int64_t>{5000, 24}, {40, 90}}) {
    const std::vector<T> X = decaying_data<T>(n, d, 101 + n);
    const NativeArray<T> dev(this->cuda(), X);
    const MatrixView<const T> host(X.data(), n, d), device(dev.data(), n, d, d, kDevice);
    const int64_t k = 6;
    for (PcaSolver s : {PcaSolver::kFull, PcaSolver::kCovarianceEigh, PcaSolver::kRandomized}) {
      for (bool on_device : {false, true}) {
        SCOPED_TRACE(std::to_string(n) + " x " + std::to_string(d) + ", solver " +
                     std::to_string(static_cast<int>(s)) + (on_device ? ", device" : ", host"));
        PcaParams p;
        p.svd_solver = s;
        p.n_components = NComponents::of(k);
        p.whiten = true;
        const PcaModel<T> want = pca_fit<T>(cpu_ctx, p, host);
        const PcaModel<T> got = pca_fit<T>(cuda_ctx, p, on_device ? device : host);
        expect_close(got.explained_variance, want.explained_variance, "explained_variance");
        expect_close(got.explained_variance_ratio, want.explained_variance_ratio, "ratio");
        expect_close(got.components, want.components, "components");
        expect_close(got.mean, want.mean, "mean");
        // transform, then score_samples (device X: the row norms run on the device)
        std::vector<T> z_want(n * k), ll_want(n), ll_got(n);
        pca_transform<T>(cpu_ctx, want, host, MatrixView<T>(z_want.data(), n, k));
        NativeArray<T> z_dev(this->cuda(), std::vector<T>(n * k));
        std::vector<T> z_got(n * k);
        if (on_device) {
          pca_transform<T>(cuda_ctx, want, device, MatrixView<T>(z_dev.data(), n, k, k, kDevice));
          z_got = z_dev.read();
        } else {
          pca_transform<T>(cuda_ctx, want, host, MatrixView<T>(z_got.data(), n, k));
        }
        expect_close(z_got, z_want, "transform");
        if (n > d) {
          pca_score_samples<T>(cpu_ctx, want, host, VectorView<T>(ll_want.data(), n));
          pca_score_samples<T>(cuda_ctx, want, on_device ? device : host,
                               VectorView<T>(ll_got.data(), n));
          expect_close(ll_got, ll_want, "score_samples");
        }
      }
    }
    TruncatedSvdParams t;
    t.n_components = k;
    const TruncatedSvdModel<T> want = truncated_svd_fit<T>(cpu_ctx, t, host);
    const TruncatedSvdModel<T> got = truncated_svd_fit<T>(cuda_ctx, t, device);
    expect_close(got.singular_values, want.singular_values, "singular_values");
    expect_close(got.explained_variance, want.explained_variance, "tsvd explained_variance");
    expect_close(got.components, want.components, "tsvd components");
  }
}

}  // namespace
}  // namespace gpulearn::detail
