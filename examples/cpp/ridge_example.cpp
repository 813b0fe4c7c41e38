// Fits a Ridge regression through gpulearn's C++ API and prints its coefficients.
// The device is "auto": the first GPU where the CUDA backend is available, else the CPU.
#include <cstdio>
#include <random>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

int main() {
  constexpr int64_t n = 1000, d = 4;
  const double true_coef[d] = {1.5, -2.0, 0.25, 3.0};
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal;
  std::vector<double> X(n * d), y(n);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = 0.5 + 0.01 * normal(rng);  // intercept 0.5, a little noise
    for (int64_t j = 0; j < d; ++j) {
      X[i * d + j] = normal(rng);
      y[i] += true_coef[j] * X[i * d + j];
    }
  }

  try {
    gpulearn::Context ctx{gpulearn::Device::parse("auto")};
    gpulearn::linear_model::RidgeParams params;  // scikit-learn's defaults: alpha = 1.0
    auto model = gpulearn::linear_model::ridge_fit<double>(
        ctx, params, gpulearn::MatrixView<const double>(X.data(), n, d),
        gpulearn::MatrixView<const double>(y.data(), n, 1));
    std::printf("device: %s  solver: %s\n", ctx.device().to_string().c_str(), model.solver.c_str());
    std::printf("coef:");
    for (double c : model.coef) std::printf(" %.4f", c);
    std::printf("\nintercept: %.4f\n", model.intercept[0]);
  } catch (const gpulearn::Error& e) {
    std::fprintf(stderr, "gpulearn error: %s\n", e.what());
    return 1;
  }
  return 0;
}
