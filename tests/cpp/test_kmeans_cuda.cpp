// The k-means primitives of the CUDA backend against the CPU backend's, on the same inputs, through
// the Backend interface (per-sample arrays copied to device memory with the backend's own
// allocate and copy). Skipped, with the reason, where no CUDA device is usable.
//
// Every input is drawn from a seeded std::mt19937_64 (the seed is in each test). Blob data (points
// within a few standard deviations of well-separated centers) has no near ties, so the labels must
// agree exactly; uniform data may put a row within rounding of two centers, where the backends may
// pick either (checked against the CPU's own distances).
// Tolerances: distances 2e-5 in float and 1e-12 in double times the scale of the expansion
// |x - s|^2 - 2 (x - s).c + |c|^2, max_i |x_i - s|^2 + max_c |c|^2 (each backend rounds its GEMM
// in T, with an error up to ~d eps that scale), the inertia the same times the total weight; sums
// accumulated in double of the same values in another order 1e-9 relative to max(1, the largest
// |value|); draws, labels of separated data and indices exactly.
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

#include "cluster/primitives.hpp"
#include "core/backend.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "native_array.hpp"
#include "test_util.hpp"

namespace gpulearn::detail {
namespace {

using test_util::NativeArray;
using test_util::ScopedEnv;

constexpr MemorySpace kHost = MemorySpace::kHost;
constexpr MemorySpace kDevice = MemorySpace::kDevice;

template <typename T>
double expansion_tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 2e-5;
}
constexpr double kSumTolerance = 1e-9;

struct Spec {
  int64_t n = 1000, d = 3, k = 5;
  int64_t x_pad = 0;     // extra elements per row of X
  bool weights = false;  // drawn in [0.5, 2)
  int64_t w_stride = 1;
  bool shift = false;  // centre on the column means (centers passed in the shifted frame)
  bool blobs = true;   // well-separated clusters around the centers, else uniform data
};

std::string describe(const Spec& s) {
  return "n " + std::to_string(s.n) + ", d " + std::to_string(s.d) + ", k " + std::to_string(s.k) +
         ", pad " + std::to_string(s.x_pad) +
         (s.weights ? ", weighted (stride " + std::to_string(s.w_stride) + ")" : "") +
         (s.shift ? ", shifted" : "") + (s.blobs ? ", blobs" : ", uniform");
}

// Host data of one assignment problem.
template <typename T>
struct Problem {
  Spec spec;
  int64_t ld = 0;
  std::vector<T> X, w, centers, shift;
  std::vector<int32_t> labels;  // the labels passed in

  MatrixView<const T> x_view(const T* data, MemorySpace space) const {
    return MatrixView<const T>(data, spec.n, spec.d, ld, space);
  }
  VectorView<const T> w_view(const T* data, MemorySpace space) const {
    return spec.weights ? VectorView<const T>(data, spec.n, spec.w_stride, space)
                        : VectorView<const T>();
  }
  const T* shift_ptr() const { return spec.shift ? shift.data() : nullptr; }

  // The largest distance error either backend may make (see the tolerances above).
  double distance_tolerance() const {
    double x_max = 0, c_max = 0;
    for (int64_t i = 0; i < spec.n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < spec.d; ++j) {
        const double v = static_cast<double>(X[i * ld + j]) - static_cast<double>(shift[j]);
        s += v * v;
      }
      x_max = std::max(x_max, s);
    }
    for (int64_t c = 0; c < spec.k; ++c) {
      double s = 0;
      for (int64_t j = 0; j < spec.d; ++j) {
        const double v = centers[c * spec.d + j];
        s += v * v;
      }
      c_max = std::max(c_max, s);
    }
    return expansion_tolerance<T>() * std::max(1.0, x_max + c_max);
  }
  double total_weight() const {
    if (!spec.weights) return static_cast<double>(spec.n);
    double s = 0;
    for (int64_t i = 0; i < spec.n; ++i) s += w[i * spec.w_stride];
    return s;
  }
};

template <typename T>
Problem<T> make_problem(uint64_t seed, const Spec& spec) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0), weight(0.5, 2.0);
  Problem<T> p;
  p.spec = spec;
  p.ld = spec.d + spec.x_pad;
  const int64_t n = spec.n, d = spec.d, k = spec.k;
  // Centers on a grid of spacing 12 (noise 1: every point is ~6 standard deviations closer to its
  // own center than to the bisector with another), around an offset of 100 so that the shift
  // matters in float.
  int64_t base = 1;
  while ([&] {
    double cells = 1;
    for (int64_t j = 0; j < d; ++j) cells *= static_cast<double>(base);
    return cells < static_cast<double>(k);
  }()) {
    ++base;
  }
  std::vector<double> truth(k * d);
  for (int64_t c = 0; c < k; ++c) {
    int64_t digits = c;
    for (int64_t j = 0; j < d; ++j) {
      truth[c * d + j] = 100.0 + 12.0 * static_cast<double>(digits % base);
      digits /= base;
    }
  }
  p.X.assign(n * p.ld, std::numeric_limits<T>::quiet_NaN());  // padding must never be read
  std::uniform_int_distribution<int64_t> pick(0, k - 1);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = pick(rng);
    for (int64_t j = 0; j < d; ++j) {
      const double v = spec.blobs ? truth[c * d + j] + normal(rng)
                                  : 100.0 + 6.0 * static_cast<double>(base) * uniform(rng);
      p.X[i * p.ld + j] = static_cast<T>(v);
    }
  }
  if (spec.weights) {
    p.w.assign(n * spec.w_stride, std::numeric_limits<T>::quiet_NaN());
    for (int64_t i = 0; i < n; ++i) p.w[i * spec.w_stride] = static_cast<T>(weight(rng));
  }
  p.shift.assign(d, T(0));
  if (spec.shift) {
    for (int64_t j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += p.X[i * p.ld + j];
      p.shift[j] = static_cast<T>(s / static_cast<double>(n));
    }
  }
  p.centers.resize(k * d);
  for (int64_t e = 0; e < k * d; ++e) {
    p.centers[e] = static_cast<T>(truth[e] - p.shift[e % d]);
  }
  p.labels.resize(n);
  for (auto& l : p.labels) l = static_cast<int32_t>(pick(rng));
  return p;
}

using test_util::expect_close;
using test_util::expect_within;

// Runs kmeans_assign on both backends and compares everything it returns.
template <typename T>
struct AssignResult {
  KMeansStepStats stats;
  std::vector<int32_t> labels;
  std::vector<T> sq_dist;
  std::vector<double> sums, weights;
};

template <typename T>
AssignResult<T> assign_cpu(Backend& cpu, const Problem<T>& p, bool want_dist, bool want_sums) {
  AssignResult<T> r;
  r.labels = p.labels;
  r.sq_dist.assign(p.spec.n, T(-1));
  r.sums.assign(p.spec.k * p.spec.d, -1.0);
  r.weights.assign(p.spec.k, -1.0);
  r.stats = cpu.template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
      p.x_view(p.X.data(), kHost), p.w_view(p.w.data(), kHost), p.shift_ptr(), p.centers.data(),
      p.spec.k, r.labels.data(), want_dist ? r.sq_dist.data() : nullptr,
      want_sums ? r.sums.data() : nullptr, want_sums ? r.weights.data() : nullptr);
  return r;
}

template <typename T>
AssignResult<T> assign_cuda(Backend& cuda, const Problem<T>& p, bool want_dist, bool want_sums) {
  const NativeArray<T> X(cuda, p.X);
  const NativeArray<T> w(cuda, p.spec.weights ? p.w : std::vector<T>(1));
  NativeArray<int32_t> labels(cuda, p.labels);
  NativeArray<T> sq_dist(cuda, std::vector<T>(p.spec.n, T(-1)));
  AssignResult<T> r;
  r.sums.assign(p.spec.k * p.spec.d, -1.0);
  r.weights.assign(p.spec.k, -1.0);
  r.stats = cuda.template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
      p.x_view(X.data(), kDevice), p.w_view(w.data(), kDevice), p.shift_ptr(), p.centers.data(),
      p.spec.k, labels.data(), want_dist ? sq_dist.data() : nullptr,
      want_sums ? r.sums.data() : nullptr, want_sums ? r.weights.data() : nullptr);
  r.labels = labels.read();
  r.sq_dist = sq_dist.read();
  return r;
}

// Rows whose labels differ must be near ties by the CPU's own distances; returns how many differ.
template <typename T>
int64_t check_labels(Backend& cpu, const Problem<T>& p, const std::vector<int32_t>& actual,
                     const std::vector<int32_t>& expected) {
  const int64_t n = p.spec.n, k = p.spec.k;
  std::vector<int64_t> differ;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(actual[i] >= 0 && actual[i] < k) << "label " << actual[i] << " of row " << i;
    if (actual[i] != expected[i]) differ.push_back(i);
  }
  if (differ.empty()) return 0;
  EXPECT_FALSE(p.spec.blobs) << differ.size() << " labels differ on separated data, e.g. row "
                             << differ[0] << ": " << actual[differ[0]] << " vs "
                             << expected[differ[0]];
  std::vector<T> D(n * k);
  cpu.template primitives<detail::ClusterPrimitives<T>>().sq_distances(
      p.x_view(p.X.data(), kHost), p.shift_ptr(), p.centers.data(), k,
      MatrixView<T>(D.data(), n, k));
  const double tol = 2 * p.distance_tolerance();  // each backend's error
  for (int64_t i : differ) {
    const double a = D[i * k + actual[i]], b = D[i * k + expected[i]];
    EXPECT_LE(std::abs(a - b), tol)
        << "row " << i << ": labels " << actual[i] << " vs " << expected[i]
        << " are not a near tie (" << a << " vs " << b << ")";
  }
  return static_cast<int64_t>(differ.size());
}

template <typename T>
void compare_assign(Backend& cpu, Backend& cuda, const Problem<T>& p, bool want_dist,
                    bool want_sums) {
  SCOPED_TRACE(describe(p.spec) + (want_dist ? ", distances" : "") + (want_sums ? ", sums" : ""));
  const AssignResult<T> want = assign_cpu(cpu, p, want_dist, want_sums);
  const AssignResult<T> got = assign_cuda(cuda, p, want_dist, want_sums);
  const int64_t differ = check_labels(cpu, p, got.labels, want.labels);
  EXPECT_LE(std::abs(got.stats.changed - want.stats.changed), differ);
  const double tol = p.distance_tolerance();
  EXPECT_LE(std::abs(got.stats.inertia - want.stats.inertia), tol * p.total_weight())
      << "inertia " << got.stats.inertia << " vs " << want.stats.inertia;
  if (want_dist) {
    expect_within(got.sq_dist, want.sq_dist, tol, "squared distances");
  } else {
    for (T v : got.sq_dist) ASSERT_EQ(v, T(-1)) << "sq_dist written though not asked for";
  }
  if (want_sums && differ == 0) {
    expect_close(got.sums, want.sums, kSumTolerance, "cluster sums");
    expect_close(got.weights, want.weights, kSumTolerance, "cluster weights");
  }
  if (!want_sums) {
    for (double v : got.sums) ASSERT_EQ(v, -1.0) << "sums written though not asked for";
  }
}

template <typename T>
class CudaKMeansTest : public test_util::CpuAndCudaBackends {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaKMeansTest, FloatTypes);

// Shapes that exercise one lane per row (k = 1), partial warps (k = 5, 33) and whole warps looping
// over the centers (k = 70), one and many features, short and long tiles.
std::vector<Spec> assign_specs() {
  std::vector<Spec> specs;
  specs.reserve(16);  // add's pointers stay valid
  auto add = [&](int64_t n, int64_t d, int64_t k) {
    Spec s;
    s.n = n;
    s.d = d;
    s.k = k;
    specs.push_back(s);
    return &specs.back();
  };
  add(1, 2, 3);
  add(100, 1, 1);
  add(1000, 3, 5);
  auto* s = add(2000, 17, 33);
  s->weights = true;
  s = add(3000, 64, 3);
  s->x_pad = 5;
  s->weights = true;
  s->w_stride = 2;
  add(1500, 5, 70)->shift = true;
  s = add(5000, 8, 40);
  s->weights = true;
  s->shift = true;
  return specs;
}

TYPED_TEST(CudaKMeansTest, AssignMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 1001;
  for (const Spec& base : assign_specs()) {
    for (bool shift : {false, true}) {
      Spec spec = base;
      spec.shift = spec.shift || shift;
      const auto p = make_problem<TypeParam>(seed++, spec);
      SCOPED_TRACE("seed " + std::to_string(seed - 1));
      compare_assign(this->cpu(), this->cuda(), p, true, true);
      compare_assign(this->cpu(), this->cuda(), p, false, false);
    }
  }
}

TYPED_TEST(CudaKMeansTest, AssignOnUniformDataDiffersOnlyOnNearTies) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  uint64_t seed = 1101;
  for (Spec spec : assign_specs()) {
    spec.blobs = false;
    const auto p = make_problem<TypeParam>(seed++, spec);
    SCOPED_TRACE("seed " + std::to_string(seed - 1));
    compare_assign(this->cpu(), this->cuda(), p, true, true);
  }
}

TYPED_TEST(CudaKMeansTest, AssignAcrossTileBoundaries) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 2345;  // not a multiple of the 256-row blocks
  spec.d = 6;
  spec.k = 9;
  spec.weights = true;
  spec.shift = true;
  spec.x_pad = 1;
  const auto p = make_problem<TypeParam>(1201, spec);
  const AssignResult<TypeParam> whole = assign_cuda(this->cuda(), p, true, true);
  for (const char* rows : {"1", "300", "1000"}) {
    SCOPED_TRACE(std::string("tile cap ") + rows);
    ScopedEnv env("GPULEARN_CUDA_MAX_CHUNK_ROWS", rows);
    compare_assign(this->cpu(), this->cuda(), p, true, true);
    const AssignResult<TypeParam> tiled = assign_cuda(this->cuda(), p, true, true);
    EXPECT_EQ(tiled.labels, whole.labels);
    EXPECT_EQ(tiled.stats.changed, whole.stats.changed);
    // The sums come from a pass over the sorted labels, whatever the tiles were.
    EXPECT_EQ(tiled.sums, whole.sums);
    EXPECT_EQ(tiled.weights, whole.weights);
  }
}

TYPED_TEST(CudaKMeansTest, AssignIsDeterministic) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  Spec spec;
  spec.n = 20000;
  spec.d = 12;
  spec.k = 25;
  spec.weights = true;
  spec.shift = true;
  const auto p = make_problem<TypeParam>(1301, spec);
  const AssignResult<TypeParam> first = assign_cuda(this->cuda(), p, true, true);
  for (int run = 0; run < 3; ++run) {
    const AssignResult<TypeParam> again = assign_cuda(this->cuda(), p, true, true);
    EXPECT_EQ(again.labels, first.labels);
    EXPECT_EQ(again.sq_dist, first.sq_dist);
    EXPECT_EQ(again.stats.inertia, first.stats.inertia);  // bitwise
    EXPECT_EQ(again.stats.changed, first.stats.changed);
    EXPECT_EQ(again.sums, first.sums);
    EXPECT_EQ(again.weights, first.weights);
  }
}

TYPED_TEST(CudaKMeansTest, AssignCountsChangedLabels) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Spec spec;
  spec.n = 700;
  Problem<T> p = make_problem<T>(1401, spec);
  AssignResult<T> first = assign_cuda(this->cuda(), p, false, false);
  p.labels = first.labels;  // a second pass from the converged labels changes nothing
  EXPECT_EQ(assign_cuda(this->cuda(), p, false, false).stats.changed, 0);
  for (int64_t i = 0; i < 10; ++i) p.labels[i * 7] = (p.labels[i * 7] + 1) % spec.k;
  EXPECT_EQ(assign_cuda(this->cuda(), p, false, false).stats.changed, 10);
}

TYPED_TEST(CudaKMeansTest, AssignLeavesEmptyClustersAtZero) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  Spec spec;
  spec.n = 400;
  spec.d = 2;
  spec.k = 4;
  Problem<T> p = make_problem<T>(1501, spec);
  // Two far-away centers that no row is closest to.
  for (int64_t c : {1, 3}) {
    for (int64_t j = 0; j < spec.d; ++j) p.centers[c * spec.d + j] = T(1e4);
  }
  const AssignResult<T> got = assign_cuda(this->cuda(), p, false, true);
  compare_assign(this->cpu(), this->cuda(), p, false, true);
  for (int64_t c : {1, 3}) {
    EXPECT_EQ(got.weights[c], 0.0);
    for (int64_t j = 0; j < spec.d; ++j) EXPECT_EQ(got.sums[c * spec.d + j], 0.0);
  }
}

TYPED_TEST(CudaKMeansTest, SqDistancesMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  uint64_t seed = 1601;
  for (const Spec& base : assign_specs()) {
    for (bool shift : {false, true}) {
      Spec spec = base;
      spec.shift = shift;
      spec.blobs = false;
      const Problem<T> p = make_problem<T>(seed++, spec);
      SCOPED_TRACE(describe(spec) + ", seed " + std::to_string(seed - 1));
      const int64_t n = spec.n, k = spec.k, ld = k + 3;
      const T sentinel = T(-12345);
      std::vector<T> want(n * ld, sentinel);
      this->cpu().template primitives<detail::ClusterPrimitives<T>>().sq_distances(
          p.x_view(p.X.data(), kHost), p.shift_ptr(), p.centers.data(), k,
          MatrixView<T>(want.data(), n, k, ld));
      const NativeArray<T> X(this->cuda(), p.X);
      NativeArray<T> out(this->cuda(), std::vector<T>(n * ld, sentinel));
      this->cuda().template primitives<detail::ClusterPrimitives<T>>().sq_distances(
          p.x_view(X.data(), kDevice), p.shift_ptr(), p.centers.data(), k,
          MatrixView<T>(out.data(), n, k, ld, kDevice));
      const std::vector<T> got = out.read();
      std::vector<T> got_packed, want_packed;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = k; c < ld; ++c) ASSERT_EQ(got[i * ld + c], sentinel) << "padding written";
        for (int64_t c = 0; c < k; ++c) {
          ASSERT_GE(got[i * ld + c], T(0));
          got_packed.push_back(got[i * ld + c]);
          want_packed.push_back(want[i * ld + c]);
        }
      }
      expect_within(got_packed, want_packed, p.distance_tolerance(), "squared distances");
    }
  }
}

// Positive per-sample values (current closest distances, candidate distances, probabilities).
template <typename T>
std::vector<T> positive(std::mt19937_64& rng, int64_t count, double zero_share = 0.0) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<T> v(count);
  for (T& x : v) x = u(rng) < zero_share ? T(0) : static_cast<T>(0.01 + 10.0 * u(rng));
  return v;
}

TYPED_TEST(CudaKMeansTest, MinPotentialsAndUpdateMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  std::mt19937_64 rng(1701);
  for (int64_t n : {1, 1000, 100003}) {
    for (int64_t t : {1, 3, 40}) {
      for (bool weighted : {false, true}) {
        SCOPED_TRACE("n " + std::to_string(n) + ", t " + std::to_string(t) +
                     (weighted ? ", weighted" : ""));
        const int64_t ld = t + 2, w_stride = 3;
        const std::vector<T> cur = positive<T>(rng, n), D = positive<T>(rng, n * ld);
        std::vector<T> w = positive<T>(rng, n * w_stride);
        const VectorView<const T> w_host =
            weighted ? VectorView<const T>(w.data(), n, w_stride) : VectorView<const T>();
        std::vector<double> want(t), got(t);
        this->cpu().template primitives<detail::ClusterPrimitives<T>>().min_potentials(
            VectorView<const T>(cur.data(), n), MatrixView<const T>(D.data(), n, t, ld), w_host,
            want.data());
        NativeArray<T> cur_d(this->cuda(), cur);
        const NativeArray<T> D_d(this->cuda(), D), w_d(this->cuda(), w);
        const VectorView<const T> w_dev =
            weighted ? VectorView<const T>(w_d.data(), n, w_stride, kDevice)
                     : VectorView<const T>();
        this->cuda().template primitives<detail::ClusterPrimitives<T>>().min_potentials(
            VectorView<const T>(cur_d.data(), n, 1, kDevice),
            MatrixView<const T>(D_d.data(), n, t, ld, kDevice), w_dev, got.data());
        expect_close(got, want, kSumTolerance, "potentials");

        // min_update with the last candidate: exact (a comparison).
        std::vector<T> updated = cur;
        this->cpu().template primitives<detail::ClusterPrimitives<T>>().min_update(
            VectorView<T>(updated.data(), n), MatrixView<const T>(D.data(), n, t, ld), t - 1);
        this->cuda().template primitives<detail::ClusterPrimitives<T>>().min_update(
            VectorView<T>(cur_d.data(), n, 1, kDevice),
            MatrixView<const T>(D_d.data(), n, t, ld, kDevice), t - 1);
        EXPECT_EQ(cur_d.read(), updated);
      }
    }
  }
}

TYPED_TEST(CudaKMeansTest, WeightedDrawsMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  std::mt19937_64 rng(1801);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int64_t n : {1, 7, 2048, 2049, 100003}) {
    for (int variant = 0; variant < 3; ++variant) {  // p only, p and w, w only
      SCOPED_TRACE("n " + std::to_string(n) + ", variant " + std::to_string(variant));
      const bool use_p = variant<2, use_w = variant> 0;
      // A third of the entries zero: runs of equal running sums, which searchsorted skips.
      const std::vector<T> p = positive<T>(rng, n * 2, 0.3), w = positive<T>(rng, n);
      const int64_t t = 64;
      std::vector<double> u(t);
      for (double& x : u) x = unit(rng);
      u[0] = 0.0;  // the first entry, even when its weight is zero
      u[1] = std::nextafter(1.0, 0.0);
      const auto p_host = use_p ? VectorView<const T>(p.data(), n, 2) : VectorView<const T>();
      const auto w_host = use_w ? VectorView<const T>(w.data(), n) : VectorView<const T>();
      std::vector<int64_t> want(t), got(t);
      this->cpu().template primitives<detail::ClusterPrimitives<T>>().weighted_draws(
          p_host, w_host, u.data(), t, want.data());
      const NativeArray<T> p_d(this->cuda(), p), w_d(this->cuda(), w);
      const auto p_dev =
          use_p ? VectorView<const T>(p_d.data(), n, 2, kDevice) : VectorView<const T>();
      const auto w_dev =
          use_w ? VectorView<const T>(w_d.data(), n, 1, kDevice) : VectorView<const T>();
      this->cuda().template primitives<detail::ClusterPrimitives<T>>().weighted_draws(
          p_dev, w_dev, u.data(), t, got.data());
      EXPECT_EQ(got, want);
    }
  }
}

TYPED_TEST(CudaKMeansTest, IndependentDrawsMatchCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  std::mt19937_64 rng(1901);
  for (int64_t n : {1, 5000, 250000}) {
    for (bool weighted : {false, true}) {
      SCOPED_TRACE("n " + std::to_string(n) + (weighted ? ", weighted" : ""));
      const std::vector<T> p = positive<T>(rng, n, 0.1), w = positive<T>(rng, n * 2);
      const auto w_host = weighted ? VectorView<const T>(w.data(), n, 2) : VectorView<const T>();
      const NativeArray<T> p_d(this->cuda(), p), w_d(this->cuda(), w);
      const auto w_dev =
          weighted ? VectorView<const T>(w_d.data(), n, 2, kDevice) : VectorView<const T>();
      for (double scale : {0.0, 1e-3, 0.05, 1e3}) {
        SCOPED_TRACE("scale " + std::to_string(scale));
        for (uint64_t seed : {uint64_t{0}, uint64_t{42}, ~uint64_t{0}}) {
          const std::vector<int64_t> want =
              this->cpu().template primitives<detail::ClusterPrimitives<T>>().independent_draws(
                  VectorView<const T>(p.data(), n), w_host, scale, seed);
          const std::vector<int64_t> got =
              this->cuda().template primitives<detail::ClusterPrimitives<T>>().independent_draws(
                  VectorView<const T>(p_d.data(), n, 1, kDevice), w_dev, scale, seed);
          EXPECT_EQ(got, want) << "seed " << seed;
        }
      }
    }
  }
}

TYPED_TEST(CudaKMeansTest, LargestMatchesCpu) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  std::mt19937_64 rng(2001);
  for (int64_t n : {1, 10, 5000, 200001}) {
    for (bool ties : {false, true}) {
      SCOPED_TRACE("n " + std::to_string(n) + (ties ? ", many ties" : ""));
      std::vector<T> p = positive<T>(rng, n * 2);
      // Few distinct values: the order among equal ones is by index.
      if (ties) {
        for (T& x : p) x = std::floor(x / T(3));
      }
      const NativeArray<T> p_d(this->cuda(), p);
      for (int64_t m : {int64_t{1}, int64_t{3}, std::min<int64_t>(n, 50), n}) {
        if (m > n) continue;
        std::vector<int64_t> want(m), got(m);
        this->cpu().template primitives<detail::ClusterPrimitives<T>>().largest(
            VectorView<const T>(p.data(), n, 2), m, want.data());
        this->cuda().template primitives<detail::ClusterPrimitives<T>>().largest(
            VectorView<const T>(p_d.data(), n, 2, kDevice), m, got.data());
        EXPECT_EQ(got, want) << "m " << m;
      }
    }
  }
}

TYPED_TEST(CudaKMeansTest, RejectsHostArrays) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  using T = TypeParam;
  const Problem<T> p = make_problem<T>(2101, Spec{});
  std::vector<int32_t> labels = p.labels;
  // X in host memory: the driver keeps k-means arrays in the native (device) space.
  EXPECT_THROW(this->cuda().template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
                   p.x_view(p.X.data(), kHost), VectorView<const T>(), nullptr, p.centers.data(),
                   p.spec.k, labels.data(), nullptr, nullptr, nullptr),
               InvalidArgument);
  // Host memory mislabelled as device memory, and host labels.
  EXPECT_THROW(this->cuda().template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
                   p.x_view(p.X.data(), kDevice), VectorView<const T>(), nullptr, p.centers.data(),
                   p.spec.k, labels.data(), nullptr, nullptr, nullptr),
               InvalidArgument);
  const NativeArray<T> X(this->cuda(), p.X);
  EXPECT_THROW(this->cuda().template primitives<detail::ClusterPrimitives<T>>().kmeans_assign(
                   p.x_view(X.data(), kDevice), VectorView<const T>(), nullptr, p.centers.data(),
                   p.spec.k, labels.data(), nullptr, nullptr, nullptr),
               InvalidArgument);
  std::vector<T> v(10, T(1));
  std::vector<int64_t> idx(1);
  EXPECT_THROW(this->cuda().template primitives<detail::ClusterPrimitives<T>>().largest(
                   VectorView<const T>(v.data(), 10), 1, idx.data()),
               InvalidArgument);
}

// ---- Memory services of the interface ---------------------------------------------------------

TEST(CudaKMeansBackendTest, AllocateAndCopy) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  auto cuda = make_cuda_backend(0);
  EXPECT_EQ(cuda->native_space(), kDevice);
  std::vector<double> host(1000);
  std::mt19937_64 rng(2201);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double& x : host) x = normal(rng);
  const int64_t bytes = static_cast<int64_t>(host.size() * sizeof(double));
  const auto a = cuda->allocate(bytes), b = cuda->allocate(bytes);
  ASSERT_NE(a.get(), nullptr);
  cuda->copy(a.get(), kDevice, host.data(), kHost, bytes);
  cuda->copy(b.get(), kDevice, a.get(), kDevice, bytes);
  std::vector<double> back(host.size()), copied(host.size());
  cuda->copy(back.data(), kHost, b.get(), kDevice, bytes);
  EXPECT_EQ(back, host);
  cuda->copy(copied.data(), kHost, back.data(), kHost, bytes);
  EXPECT_EQ(copied, host);
  EXPECT_NO_THROW(cuda->copy(b.get(), kDevice, host.data(), kHost, 0));
  EXPECT_NE(cuda->allocate(0).get(), nullptr);
}

TEST(CudaKMeansBackendTest, AllocateTooMuchIsOutOfMemory) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  auto cuda = make_cuda_backend(0);
  try {
    cuda->allocate(int64_t{1} << 52);  // 4 PiB
    ADD_FAILURE() << "allocating 4 PiB did not throw";
  } catch (const OutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
  // The backend still works afterwards.
  const auto a = cuda->allocate(64);
  EXPECT_NE(a.get(), nullptr);
}

TEST(CudaKMeansBackendTest, AllocationsOutliveTheBackend) {
  GPULEARN_SKIP_WITHOUT_CUDA();
  std::shared_ptr<void> block;
  {
    auto cuda = make_cuda_backend(0);
    block = cuda->allocate(1 << 20);
  }
  block.reset();  // freed after the backend is gone: no crash, no error
  SUCCEED();
}

}  // namespace
}  // namespace gpulearn::detail
