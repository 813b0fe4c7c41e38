// Random forests on the CPU backend. A tree without bootstrap, visiting every feature, with a
// bin per distinct value, must choose exactly the splits of an exact CART search written here
// independently (sorting each feature, every threshold between consecutive values): the test
// walks both trees and compares feature and threshold wherever the reference split is unique
// (nodes of at least kCompareRows rows on continuous random data). Also: purity, limits,
// determinism and thread-count independence, importances, out-of-bag values, prepared forests,
// bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "forest_shapes.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/ensemble/random_forest.hpp"
#include "test_util.hpp"

namespace gpulearn::ensemble {
namespace {

// Below this many rows equally good splits become likely on random data; not compared.
constexpr int64_t kCompareRows = 12;

struct Data {
  int64_t n = 0, d = 0;
  std::vector<double> X, y;
  std::vector<int32_t> labels;
  MatrixView<const double> x() const { return MatrixView<const double>(X.data(), n, d); }
  MatrixView<const double> Y() const { return MatrixView<const double>(y.data(), n, 1); }
};

// Continuous features (float32-representable), labels from a noisy nonlinear rule, y smooth.
Data make_data(int64_t n, int64_t d, int n_classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  Data D;
  D.n = n;
  D.d = d;
  D.X.resize(n * d);
  for (double& v : D.X) v = g(rng);
  D.labels.resize(n);
  D.y.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* x = &D.X[i * d];
    const double s = x[0] + 0.5 * x[1] * x[1 % d] - 0.7 * x[2 % d] + 0.3 * g(rng);
    D.labels[i] = static_cast<int32_t>(std::min<int64_t>(
        n_classes - 1, std::max<int64_t>(0, static_cast<int64_t>((s + 1.5) / 3 * n_classes))));
    D.y[i] = std::sin(x[0]) + x[1 % d] * x[2 % d] + 0.1 * g(rng);
  }
  return D;
}

// ---- an exact CART search, independent of gpulearn ----
struct RefSplit {
  int64_t feature = -1;
  double threshold = 0;
};

double node_cost(const Data& D, const std::vector<int64_t>& rows, int n_classes, bool classify) {
  // n * impurity: gini for classes, variance for y.
  const double n = static_cast<double>(rows.size());
  if (classify) {
    std::vector<double> c(n_classes, 0);
    for (int64_t i : rows) c[D.labels[i]] += 1;
    double sq = 0;
    for (double v : c) sq += v * v;
    return n - sq / n;
  }
  double s = 0, s2 = 0;
  for (int64_t i : rows) {
    s += D.y[i];
    s2 += D.y[i] * D.y[i];
  }
  return s2 - s * s / n;
}

RefSplit best_split(const Data& D, const std::vector<int64_t>& rows, int n_classes, bool classify,
                    bool* unique) {
  RefSplit best;
  double best_cost = std::numeric_limits<double>::infinity(), second = best_cost;
  for (int64_t f = 0; f < D.d; ++f) {
    std::vector<int64_t> r(rows);
    std::sort(r.begin(), r.end(),
              [&](int64_t a, int64_t b) { return D.X[a * D.d + f] < D.X[b * D.d + f]; });
    for (size_t k = 1; k < r.size(); ++k) {
      const double a = D.X[r[k - 1] * D.d + f], b = D.X[r[k] * D.d + f];
      if (a == b) continue;
      const std::vector<int64_t> L(r.begin(), r.begin() + k), R(r.begin() + k, r.end());
      const double cost =
          node_cost(D, L, n_classes, classify) + node_cost(D, R, n_classes, classify);
      if (cost < best_cost) {
        second = best_cost;
        best_cost = cost;
        best.feature = f;
        best.threshold = a / 2 + b / 2;
      } else if (cost < second) {
        second = cost;
      }
    }
  }
  *unique = second - best_cost > 1e-9 * std::max(1.0, std::abs(best_cost));
  return best;
}

// Walks tree 0 of f and the reference side by side; returns the number of splits compared.
int64_t compare_with_reference(const Data& D, const RandomForest& f, int n_classes, bool classify) {
  int64_t compared = 0;
  struct Item {
    int64_t node;
    std::vector<int64_t> rows;
  };
  std::vector<int64_t> all(D.n);
  std::iota(all.begin(), all.end(), 0);
  std::vector<Item> stack{{0, all}};
  while (!stack.empty()) {
    Item it = std::move(stack.back());
    stack.pop_back();
    EXPECT_EQ(f.n_node_samples[it.node], static_cast<int64_t>(it.rows.size()));
    if (f.children_left[it.node] < 0 || static_cast<int64_t>(it.rows.size()) < kCompareRows) {
      continue;
    }
    bool unique = false;
    const RefSplit ref = best_split(D, it.rows, n_classes, classify, &unique);
    const int64_t feat = f.feature[it.node];
    const double thr = f.threshold[it.node];
    if (unique) {
      EXPECT_EQ(feat, ref.feature) << "node " << it.node;
      EXPECT_EQ(thr, ref.threshold) << "node " << it.node;
      ++compared;
    }
    std::vector<int64_t> L, R;
    for (int64_t i : it.rows) (D.X[i * D.d + feat] <= thr ? L : R).push_back(i);
    stack.push_back({f.children_right[it.node], R});
    stack.push_back({f.children_left[it.node], L});
  }
  return compared;
}

RandomForestParams single_exact_tree() {
  RandomForestParams p;
  p.n_estimators = 1;
  p.bootstrap = false;
  p.max_features = MaxFeatures::all();
  p.seed = 7;
  return p;
}

std::vector<double> predict(Context& ctx, const RandomForest& f, MatrixView<const double> X) {
  std::vector<double> out(X.rows * f.value_width);
  random_forest_predict<double>(ctx, f.view(), X, out.data());
  return out;
}

TEST(RandomForest, SingleClassifierTreeMatchesExactCart) {
  Context ctx(Device::cpu());
  for (int n_classes : {2, 4}) {
    const Data D = make_data(250, 5, n_classes, 11 + n_classes);
    const RandomForest f = random_forest_classifier_fit<double>(ctx, single_exact_tree(), D.x(),
                                                                D.labels.data(), n_classes, {});
    EXPECT_GT(compare_with_reference(D, f, n_classes, true), 10);
    // Grown to purity: the training set is predicted exactly.
    const std::vector<double> p = predict(ctx, f, D.x());
    for (int64_t i = 0; i < D.n; ++i) ASSERT_EQ(p[i * n_classes + D.labels[i]], 1.0) << i;
  }
}

TEST(RandomForest, SingleRegressorTreeMatchesExactCart) {
  Context ctx(Device::cpu());
  const Data D = make_data(250, 4, 2, 5);
  RandomForestParams p = single_exact_tree();
  p.criterion = Criterion::kSquaredError;
  const RandomForest f = random_forest_regressor_fit<double>(ctx, p, D.x(), D.Y(), {});
  EXPECT_GT(compare_with_reference(D, f, 0, false), 10);
  const std::vector<double> pred = predict(ctx, f, D.x());
  for (int64_t i = 0; i < D.n; ++i) ASSERT_NEAR(pred[i], D.y[i], 1e-12) << i;
}

TEST(RandomForest, SameSeedSameForestAnyThreadCount) {
  const Data D = make_data(2000, 8, 3, 3);
  RandomForestParams p;
  p.n_estimators = 12;
  p.max_features = 3;
  p.oob = true;
  p.seed = 42;
  Context one(Device::cpu()), two(Device::cpu());
  one.set_n_threads(1);
  two.set_n_threads(2);
  const RandomForest a =
      random_forest_classifier_fit<double>(one, p, D.x(), D.labels.data(), 3, {});
  const RandomForest b =
      random_forest_classifier_fit<double>(two, p, D.x(), D.labels.data(), 3, {});
  EXPECT_EQ(a.feature, b.feature);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.oob_value, b.oob_value);
  p.seed = 43;
  const RandomForest c =
      random_forest_classifier_fit<double>(two, p, D.x(), D.labels.data(), 3, {});
  EXPECT_NE(a.threshold, c.threshold);
}

TEST(RandomForest, ForestOutputsAreConsistent) {
  Context ctx(Device::cpu());
  const Data D = make_data(3000, 10, 3, 9);
  RandomForestParams p;
  p.n_estimators = 20;
  p.max_features = 3;
  p.oob = true;
  const RandomForest f =
      random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 3, {});
  ASSERT_EQ(f.n_trees(), 20);
  double sum = 0;
  for (double v : f.feature_importances) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // The informative features (0, 1, 2) carry most of the importance.
  EXPECT_GT(f.feature_importances[0] + f.feature_importances[1] + f.feature_importances[2], 0.5);
  // Out of bag: about e^-1 of the trees per row; each mean is a distribution.
  int64_t never = 0;
  for (int64_t i = 0; i < D.n; ++i) {
    if (f.oob_count[i] == 0) {
      ++never;
      continue;
    }
    double s = 0;
    for (int c = 0; c < 3; ++c) s += f.oob_value[i * 3 + c];
    ASSERT_NEAR(s, 1.0, 1e-12);
  }
  EXPECT_LT(never, D.n / 100);
  // apply and predict agree: the mean of the reached leaves' values.
  std::vector<int64_t> leaves(D.n * 20);
  random_forest_apply<double>(ctx, f.view(), D.x(), leaves.data());
  const std::vector<double> mean = predict(ctx, f, D.x());
  for (int64_t i = 0; i < D.n; i += 97) {
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (int64_t t = 0; t < 20; ++t) {
        const int64_t node = f.tree_offsets[t] + leaves[i * 20 + t];
        ASSERT_LT(f.children_left[node], 0);
        s += f.value[node * 3 + c];
      }
      ASSERT_NEAR(mean[i * 3 + c], s / 20, 1e-12);
    }
  }
}

TEST(RandomForest, LimitsAreHonoured) {
  Context ctx(Device::cpu());
  const Data D = make_data(2000, 6, 2, 21);
  RandomForestParams p;
  p.n_estimators = 5;
  p.max_depth = 3;
  RandomForest f = random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {});
  for (int64_t depth : f.max_depth) EXPECT_LE(depth, 3);
  p.max_depth = -1;
  p.max_leaf_nodes = 9;
  f = random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {});
  for (int64_t t = 0; t < f.n_trees(); ++t) {
    int64_t leaves = 0;
    for (int64_t i = f.tree_offsets[t]; i < f.tree_offsets[t + 1]; ++i)
      leaves += f.children_left[i] < 0;
    EXPECT_EQ(leaves, 9);
  }
  p.max_leaf_nodes = -1;
  p.min_samples_leaf = 40;
  f = random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {});
  for (size_t i = 0; i < f.n_node_samples.size(); ++i) EXPECT_GE(f.n_node_samples[i], 40);
}

TEST(RandomForest, UnlimitedDepthGrowsPastThirty) {
  // Alternating labels along one feature: a pure tree needs a split between every pair.
  Context ctx(Device::cpu());
  Data D;
  D.n = 200;
  D.d = 1;
  for (int64_t i = 0; i < D.n; ++i) {
    D.X.push_back(static_cast<double>(i));
    D.labels.push_back(static_cast<int32_t>(i % 2));
  }
  const RandomForest f =
      random_forest_classifier_fit<double>(ctx, single_exact_tree(), D.x(), D.labels.data(), 2, {});
  EXPECT_GT(f.max_depth[0], 30);
  const std::vector<double> p = predict(ctx, f, D.x());
  for (int64_t i = 0; i < D.n; ++i) ASSERT_EQ(p[i * 2 + D.labels[i]], 1.0);
}

TEST(RandomForest, FloatThresholdsRouteLikeTheirDoubles) {
  Context ctx(Device::cpu());
  const Data D = make_data(500, 3, 2, 2);
  std::vector<float> Xf(D.X.begin(), D.X.end());
  const MatrixView<const float> xf(Xf.data(), D.n, D.d);
  const RandomForest f =
      random_forest_classifier_fit<float>(ctx, single_exact_tree(), xf, D.labels.data(), 2, {});
  std::vector<double> pf(D.n * 2);
  random_forest_predict<float>(ctx, f.view(), xf, pf.data());
  for (int64_t i = 0; i < D.n; ++i) ASSERT_EQ(pf[i * 2 + D.labels[i]], 1.0);
}

TEST(RandomForest, MultiOutputRegressor) {
  Context ctx(Device::cpu());
  const Data D = make_data(400, 4, 2, 8);
  std::vector<double> Y(D.n * 2);
  for (int64_t i = 0; i < D.n; ++i) {
    Y[i * 2] = D.y[i];
    Y[i * 2 + 1] = 3 * D.X[i * 4] + 100;
  }
  RandomForestParams p = single_exact_tree();
  p.criterion = Criterion::kSquaredError;
  const RandomForest f = random_forest_regressor_fit<double>(
      ctx, p, D.x(), MatrixView<const double>(Y.data(), D.n, 2), {});
  const std::vector<double> pred = predict(ctx, f, D.x());
  for (int64_t i = 0; i < D.n * 2; ++i) ASSERT_NEAR(pred[i], Y[i], 1e-9);
}

TEST(RandomForest, PreparedForestPredictsAsTheView) {
  using test_util::ThrowsWith;
  Context ctx(Device::cpu());
  const Data D = make_data(1500, 6, 3, 21);
  RandomForestParams p;
  p.n_estimators = 7;
  p.max_features = 2;
  const RandomForest f =
      random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 3, {});
  const PreparedForest<double> prepared(f.view());
  EXPECT_EQ(prepared.n_trees(), 7);
  EXPECT_EQ(prepared.value_width(), 3);
  std::vector<double> a(D.n * 3), b(D.n * 3);
  random_forest_predict<double>(ctx, f.view(), D.x(), a.data());
  random_forest_predict<double>(ctx, prepared, D.x(), b.data());
  EXPECT_EQ(a, b);
  // Trees 2..4 alone (offsets not starting at 0): the leaves of those trees of the whole forest.
  ForestView slice = f.view();
  slice.n_trees = 3;
  slice.tree_offsets += 2;
  const PreparedForest<double> part(slice);
  std::vector<int64_t> all(D.n * 7), some(D.n * 3);
  random_forest_apply<double>(ctx, prepared, D.x(), all.data());
  random_forest_apply<double>(ctx, part, D.x(), some.data());
  for (int64_t i = 0; i < D.n; ++i) {
    for (int64_t t = 0; t < 3; ++t) ASSERT_EQ(some[i * 3 + t], all[i * 7 + 2 + t]) << i;
  }
  // Corrupt arrays are refused before any walk: a child pointing back to its parent, a feature
  // out of range.
  std::vector<int64_t> left = f.children_left, feature = f.feature;
  left[0] = 0;
  ForestView bad = f.view();
  bad.children_left = left.data();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { PreparedForest<float>{bad}; },
                                          {"node 0 of tree 0", "malformed"}));
  feature[0] = 6;
  bad = f.view();
  bad.feature = feature.data();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { random_forest_predict<double>(ctx, bad, D.x(), a.data()); }, {"malformed"}));
}

// scikit-learn's trees (from_sklearn): best-first numbering and a 3000-deep chain are walked as
// they are, in double and in float; indices that would not fit the packed 32-bit records are
// refused, not narrowed.
TEST(RandomForest, TraversesSklearnShapedTrees) {
  using test_util::ThrowsWith;
  Context ctx(Device::cpu());
  const test_shapes::ShapesForest shapes;
  const std::vector<double> X = test_shapes::ShapesForest::rows();
  const std::vector<int64_t> expected = test_shapes::ShapesForest::leaves(X);
  const int64_t n = static_cast<int64_t>(X.size()) / 2;
  const std::vector<float> Xf(X.begin(), X.end());
  std::vector<int64_t> leaves(n * 2), leaves_f(n * 2);
  random_forest_apply<double>(ctx, shapes.view(), MatrixView<const double>(X.data(), n, 2),
                              leaves.data());
  random_forest_apply<float>(ctx, shapes.view(), MatrixView<const float>(Xf.data(), n, 2),
                             leaves_f.data());
  EXPECT_EQ(leaves, expected);
  EXPECT_EQ(leaves_f, expected);
  std::vector<double> mean(n * 2);
  random_forest_predict<double>(ctx, shapes.view(), MatrixView<const double>(X.data(), n, 2),
                                mean.data());
  for (int64_t r = 0; r < n; ++r) {
    ASSERT_EQ(mean[r * 2], static_cast<double>(expected[r * 2] + expected[r * 2 + 1]) / 2) << r;
    ASSERT_EQ(mean[r * 2 + 1], 1.0) << r;
  }

  const int64_t past_int32 = int64_t{1} << 31;
  std::vector<int64_t> feature = shapes.forest.feature;
  feature[0] = past_int32;
  ForestView wide = shapes.view();
  wide.n_features = past_int32 + 1;
  wide.feature = feature.data();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { PreparedForest<double>{wide}; },
                                          {"node 0 of tree 0", "malformed"}));
  // Refused from the offsets alone, before any node is read.
  const std::vector<int64_t> huge_offsets = {0, past_int32};
  ForestView huge = shapes.view();
  huge.n_trees = 1;
  huge.tree_offsets = huge_offsets.data();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { PreparedForest<float>{huge}; },
                                          {"tree 0", "2147483648 nodes", "at most 2^31 - 1"}));
}

TEST(RandomForest, BadInput) {
  using test_util::ThrowsWith;
  Context ctx(Device::cpu());
  Data D = make_data(50, 3, 2, 1);
  RandomForestParams p;
  p.n_estimators = 2;
  D.X[7] = std::nan("");
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {}); },
      {"NaN"}));
  D.X[7] = 0;
  D.labels[3] = 5;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {}); },
      {"label 5"}));
  D.labels[3] = 0;
  p.n_bins = 300;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {}); },
      {"n_bins"}));
  p.n_bins = 256;
  std::vector<double> w(D.n, 0.0);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2,
                                             VectorView<const double>(w.data(), D.n));
      },
      {"non-zero"}));
  const RandomForest f =
      random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {});
  std::vector<double> out(D.n * 2);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] {
        random_forest_predict<double>(ctx, f.view(), MatrixView<const double>(D.X.data(), 25, 2),
                                      out.data());
      },
      {"features"}));
}

// max_features in scikit-learn's forms, resolved by its rule, refused in its words; the
// defaults are scikit-learn's (classifier "sqrt", regressor 1.0).
TEST(RandomForest, MaxFeaturesTakesScikitLearnsForms) {
  using test_util::ThrowsWith;
  EXPECT_EQ(MaxFeatures().resolve(20), 20);
  EXPECT_EQ(MaxFeatures::all().resolve(20), 20);
  EXPECT_EQ(MaxFeatures::sqrt().resolve(20), 4);
  EXPECT_EQ(MaxFeatures("log2").resolve(20), 4);
  EXPECT_EQ(MaxFeatures::log2().resolve(1), 1);  // max(1, int(log2(1)))
  EXPECT_EQ(MaxFeatures(3).resolve(20), 3);
  EXPECT_EQ(MaxFeatures(25).resolve(20), 20);  // scikit-learn's splitter stops at n_features
  EXPECT_EQ(MaxFeatures(0.5).resolve(20), 10);
  EXPECT_EQ(MaxFeatures(0.01).resolve(20), 1);
  EXPECT_EQ(MaxFeatures(1.0).resolve(20), 20);
  EXPECT_EQ(MaxFeatures(0.33).resolve(10), 3);  // int() truncates

  const std::string rule =
      "The 'max_features' parameter must be an int in the range [1, inf), a float in the range "
      "(0.0, 1.0], a str among {'log2', 'sqrt'} or None.";
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MaxFeatures(0).resolve(5); }, {rule, "Got 0 "}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MaxFeatures(-2).resolve(5); }, {"Got -2 "}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MaxFeatures(1.5).resolve(5); }, {"Got 1.5 "}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MaxFeatures(0.0).resolve(5); }, {"Got 0.0 "}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MaxFeatures("auto"); }, {rule, "Got 'auto' "}));

  const RandomForestParams c;
  EXPECT_TRUE(c.max_features == MaxFeatures::sqrt());
  EXPECT_EQ(c.criterion, Criterion::kGini);
  const RandomForestParams r = RandomForestParams::regressor();
  EXPECT_TRUE(r.max_features == MaxFeatures(1.0));
  EXPECT_EQ(r.criterion, Criterion::kSquaredError);

  // The fit resolves it (and records the count) and refuses a bad value before any work.
  Context ctx(Device::cpu());
  const Data D = make_data(60, 9, 2, 5);
  RandomForestParams p;
  p.n_estimators = 2;
  RandomForest f = random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {});
  EXPECT_EQ(f.max_features, 3);
  p.max_features = 0.5;
  f = random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {});
  EXPECT_EQ(f.max_features, 4);
  RandomForestParams rp = RandomForestParams::regressor();
  rp.n_estimators = 2;
  f = random_forest_regressor_fit<double>(ctx, rp, D.x(), D.Y(), {});
  EXPECT_EQ(f.max_features, 9);
  p.max_features = 0;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { random_forest_classifier_fit<double>(ctx, p, D.x(), D.labels.data(), 2, {}); },
      {"max_features", "Got 0 "}));
}

}  // namespace
}  // namespace gpulearn::ensemble
