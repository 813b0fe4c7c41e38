// The decomposition drivers over SpectralData split into row blocks (what gpulearn.dask does
// across workers): each block a LocalSpectralData, the partial results combined here (maximum,
// row-weighted means, summed Gram matrices and products, stacked R factors factored again). The
// fits must equal the single-machine MatrixView fits to reduction-order rounding: 1e-10 relative
// in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/core/sparse.hpp"
#include "gpulearn/decomposition/pca.hpp"
#include "gpulearn/decomposition/spectral_data.hpp"
#include "gpulearn/decomposition/truncated_svd.hpp"

namespace gpulearn::decomposition {
namespace {

// Rows of X split at `bounds`, each block reduced by its own LocalSpectralData.
class BlockData final : public SpectralData<double> {
 public:
  BlockData(Context& ctx, const std::vector<double>& X, int64_t n, int64_t d,
            std::vector<int64_t> bounds)
      : ctx_(ctx), X_(X), n_(n), d_(d), bounds_(std::move(bounds)) {}

  int64_t rows() const override { return n_; }
  int64_t cols() const override { return d_; }

  double max_abs() override {
    double m = 0;
    for (auto& b : blocks()) m = std::max(m, b.max_abs());
    return m;
  }
  void column_means(double* mean) override {
    std::vector<double> sum(d_, 0.0), part(d_);
    int64_t i = 0;
    for (auto& b : blocks()) {
      b.column_means(part.data());
      const double rows = static_cast<double>(bounds_[i + 1] - bounds_[i]);
      for (int64_t j = 0; j < d_; ++j) sum[j] += part[j] * rows;
      ++i;
    }
    for (int64_t j = 0; j < d_; ++j) mean[j] = sum[j] / static_cast<double>(n_);
  }
  void centered_gram(const double* mean, double scale, double* gram) override {
    std::vector<double> part(d_ * d_);
    std::fill(gram, gram + d_ * d_, 0.0);
    for (auto& b : blocks()) {
      b.centered_gram(mean, scale, part.data());
      for (int64_t i = 0; i < d_ * d_; ++i) gram[i] += part[i];
    }
  }
  int64_t centered_r_factor(const double* mean, double scale, double* r_factor) override {
    std::vector<double> stacked;
    for (auto& b : blocks()) {
      std::vector<double> R(std::min(b.rows(), d_) * d_);
      const int64_t r = b.centered_r_factor(mean, scale, R.data());
      stacked.insert(stacked.end(), R.begin(), R.begin() + r * d_);
    }
    const int64_t rows = static_cast<int64_t>(stacked.size()) / d_;
    LocalSpectralData<double> top(ctx_, MatrixView<const double>(stacked.data(), rows, d_, d_));
    return top.centered_r_factor(nullptr, 1.0, r_factor);
  }
  double centered_products(const double* mean, double scale, int64_t l, const double* Z,
                           const double* Y, double* out) override {
    std::vector<double> part(d_ * l);
    std::fill(out, out + d_ * l, 0.0);
    double total = 0;
    int64_t i = 0;
    for (auto& b : blocks()) {
      const double* y = Y != nullptr ? Y + bounds_[i] * l : nullptr;
      total += b.centered_products(mean, scale, l, Z, y, part.data());
      for (int64_t k = 0; k < d_ * l; ++k) out[k] += part[k];
      ++i;
    }
    return total;
  }

 private:
  std::vector<LocalSpectralData<double>> blocks() {
    std::vector<LocalSpectralData<double>> out;
    for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
      const int64_t a = bounds_[i], m = bounds_[i + 1] - a;
      out.emplace_back(ctx_, MatrixView<const double>(X_.data() + a * d_, m, d_, d_));
    }
    return out;
  }

  Context& ctx_;
  const std::vector<double>& X_;
  int64_t n_, d_;
  std::vector<int64_t> bounds_;
};

std::vector<double> data(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> X(n * d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) X[i * d + j] = 3.0 + g(rng) * (4.0 - 3.5 * j / d);
  }
  return X;
}

void expect_rel(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 0, err = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    err = std::max(err, std::abs(a[i] - b[i]));
  }
  EXPECT_LE(err, 1e-10 * scale) << what;
}

struct Shape {
  int64_t n, d;
  std::vector<int64_t> bounds;
};

class SpectralDataBlocks : public ::testing::TestWithParam<Shape> {};

TEST_P(SpectralDataBlocks, PcaEqualsTheSingleMachineFit) {
  const Shape s = GetParam();
  Context ctx(Device::cpu());
  const std::vector<double> X = data(s.n, s.d, 20);
  const MatrixView<const double> view(X.data(), s.n, s.d, s.d);
  for (PcaSolver solver : {PcaSolver::kFull, PcaSolver::kCovarianceEigh, PcaSolver::kRandomized}) {
    PcaParams p;
    p.svd_solver = solver;
    p.n_components = NComponents::of(3);
    BlockData blocks(ctx, X, s.n, s.d, s.bounds);
    const PcaModel<double> one = pca_fit(ctx, p, view);
    const PcaModel<double> split = pca_fit(ctx, p, blocks);
    expect_rel(split.components, one.components, "components");
    expect_rel(split.singular_values, one.singular_values, "singular_values");
    expect_rel(split.explained_variance, one.explained_variance, "explained_variance");
    expect_rel(split.mean, one.mean, "mean");
    expect_rel({split.noise_variance}, {one.noise_variance}, "noise_variance");
    expect_rel(split.fit_transform_components, one.fit_transform_components, "us");
  }
}

TEST_P(SpectralDataBlocks, TruncatedSvdEqualsTheSingleMachineFit) {
  const Shape s = GetParam();
  Context ctx(Device::cpu());
  const std::vector<double> X = data(s.n, s.d, 21);
  const MatrixView<const double> view(X.data(), s.n, s.d, s.d);
  for (auto algorithm : {TruncatedSvdAlgorithm::kRandomized, TruncatedSvdAlgorithm::kArpack}) {
    TruncatedSvdParams p;
    p.algorithm = algorithm;
    p.n_components = 3;
    BlockData blocks(ctx, X, s.n, s.d, s.bounds);
    const auto one = truncated_svd_fit(ctx, p, view);
    const auto split = truncated_svd_fit(ctx, p, blocks);
    expect_rel(split.components, one.components, "components");
    expect_rel(split.singular_values, one.singular_values, "singular_values");
    expect_rel(split.explained_variance, one.explained_variance, "explained_variance");
    expect_rel(split.explained_variance_ratio, one.explained_variance_ratio, "ratio");
  }
}

// Tall (blocks of 1 row and of fewer rows than features among them) and wide (every block has
// fewer rows than features; the randomized start is n x l, read block by block).
INSTANTIATE_TEST_SUITE_P(Shapes, SpectralDataBlocks,
                         ::testing::Values(Shape{200, 12, {0, 37, 38, 158, 200}},
                                           Shape{40, 70, {0, 5, 6, 30, 40}}));

}  // namespace
}  // namespace gpulearn::decomposition

namespace gpulearn::decomposition {
namespace {

// SparseSpectralData remembers ||X - 1 m^T||_F^2 for the mean it was measured with (an iterative
// solver passes the same mean on every product): the same mean again, in the same buffer or a
// copy, gives the same total; a mean changed in place is measured anew, equal to a fresh data's.
TEST(SparseSpectralDataTotals, CentredNormIsRememberedForItsMeanOnly) {
  Context ctx{Device::cpu()};
  const int64_t n = 40, d = 7;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  std::vector<double> values;
  std::vector<int32_t> indices;
  std::vector<int64_t> indptr = {0};
  for (int64_t i = 0; i < n; ++i) {
    for (int32_t j = 0; j < d; ++j) {
      if ((i + 3 * j) % 4 == 0) {
        values.push_back(g(rng) + 2.0);
        indices.push_back(j);
      }
    }
    indptr.push_back(static_cast<int64_t>(values.size()));
  }
  const CsrView<double> X(values.data(), indices.data(), indptr.data(), n, d);
  auto exact = [&](const std::vector<double>& m) {  // over the dense form
    std::vector<double> dense(n * d, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t q = indptr[i]; q < indptr[i + 1]; ++q) dense[i * d + indices[q]] = values[q];
    }
    double t = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) t += (dense[i * d + j] - m[j]) * (dense[i * d + j] - m[j]);
    }
    return t;
  };
  SparseSpectralData<double> data(ctx, X);
  std::vector<double> mean(d);
  data.column_means(mean.data());
  std::vector<double> z(d, 0.5), out(d);
  const double first = data.centered_products(mean.data(), 1.0, 1, z.data(), nullptr, out.data());
  EXPECT_NEAR(first, exact(mean), 1e-10 * exact(mean));
  const std::vector<double> copy = mean;
  EXPECT_EQ(data.centered_products(copy.data(), 1.0, 1, z.data(), nullptr, out.data()), first);
  for (double& m : mean) m += 0.25;  // the same buffer, another mean
  const double moved = data.centered_products(mean.data(), 1.0, 1, z.data(), nullptr, out.data());
  SparseSpectralData<double> fresh(ctx, X);
  EXPECT_EQ(moved, fresh.centered_products(mean.data(), 1.0, 1, z.data(), nullptr, out.data()));
  EXPECT_NEAR(moved, exact(mean), 1e-10 * exact(mean));
  EXPECT_GT(moved, first);  // the column means minimise it
  EXPECT_EQ(data.centered_products(mean.data(), 2.0, 0, nullptr, nullptr, out.data()), 4 * moved);
}

}  // namespace
}  // namespace gpulearn::decomposition
