// Times LinearRegression and Ridge fits through the C++ API (no Python in the loop):
//   gpulearn_bench_linear [rows=1000000] [cols=100] [device=auto] [repeats=5]
// Data are drawn once (seed 0) in host memory; each fit is timed with a steady clock after a
// warm-up, and the median is printed with the solver path and the first coefficient.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gpulearn/core/context.hpp"
#include "gpulearn/linear_model/linear_model.hpp"

namespace {

using gpulearn::MatrixView;
namespace lm = gpulearn::linear_model;

template <typename F>
double median_seconds(int repeats, F&& fit) {
  fit();  // warm-up: backend creation, first-touch allocations
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fit();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <typename T>
void run(gpulearn::Context& ctx, int64_t n, int64_t d, int repeats) {
  std::mt19937_64 rng(0);
  std::normal_distribution<T> normal;
  std::vector<T> X(n * d), y(n), w_true(d);
  for (T& v : w_true) v = normal(rng);
  for (int64_t i = 0; i < n; ++i) {
    T acc = 3;
    for (int64_t j = 0; j < d; ++j) acc += w_true[j] * (X[i * d + j] = normal(rng));
    y[i] = acc + T(0.5) * normal(rng);
  }
  const MatrixView<const T> Xv(X.data(), n, d), yv(y.data(), n, 1);
  const char* type = sizeof(T) == 4 ? "float32" : "float64";
  lm::LinearModel<T> m;
  const double t_ols = median_seconds(repeats, [&] {
    m = lm::linear_regression_fit<T>(ctx, lm::LinearRegressionParams{}, Xv, yv);
  });
  std::printf("LinearRegression %s %lld x %lld on %s: %.4f s (solver %s, coef[0] %.6f)\n", type,
              static_cast<long long>(n), static_cast<long long>(d),
              ctx.device().to_string().c_str(), t_ols, m.solver.c_str(),
              static_cast<double>(m.coef[0]));
  const double t_ridge =
      median_seconds(repeats, [&] { m = lm::ridge_fit<T>(ctx, lm::RidgeParams{}, Xv, yv); });
  std::printf("Ridge            %s %lld x %lld on %s: %.4f s (solver %s, coef[0] %.6f)\n", type,
              static_cast<long long>(n), static_cast<long long>(d),
              ctx.device().to_string().c_str(), t_ridge, m.solver.c_str(),
              static_cast<double>(m.coef[0]));
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 100;
  const std::string device = argc > 3 ? argv[3] : "auto";
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 5;
  try {
    gpulearn::Context ctx{gpulearn::Device::parse(device)};
    run<float>(ctx, n, d, repeats);
    run<double>(ctx, n, d, repeats);
  } catch (const gpulearn::Error& e) {
    std::fprintf(stderr, "gpulearn error: %s\n", e.what());
    return 1;
  }
  return 0;
}
