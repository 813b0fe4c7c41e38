// LocalForestData: a forest fit's passes over one matrix, or over one block of rows of a larger
// data set (gpulearn.dask's forests, one per block), and grow_gathered, which grows the subtrees
// of nodes whose rows were gathered from the blocks.
//
// The codes, the quantised statistics and the labels live in the backend's native memory for
// the whole-tree growth (the backend's grow_trees); the node-wise passes of a block (histograms,
// split, node_rows) read a host copy of the codes and keep each in-bag row's node per tree.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checks.hpp"
#include "../core/native.hpp"
#include "../core/parallel.hpp"
#include "forest_fit.hpp"
#include "grow_cpu.hpp"
#include "primitives.hpp"

namespace gpulearn::ensemble {

namespace fr = detail::forest;
using detail::Backend;
using detail::Scratch;

namespace {

// Per node id of one tree: the index of its entry in a request list, -1 where none.
class NodeIndex {
 public:
  void add(int32_t node, int32_t entry) {
    if (node >= static_cast<int32_t>(slot_.size())) slot_.resize(node + 1, -1);
    slot_[node] = entry;
  }
  int32_t operator[](int32_t node) const {
    return node >= 0 && node < static_cast<int32_t>(slot_.size()) ? slot_[node] : -1;
  }

 private:
  std::vector<int32_t> slot_;
};

// Per batch tree, where each listed node is in `items` (splits or subtree requests).
template <typename Item>
std::vector<NodeIndex> index_nodes(int64_t batch, const Item* items, int64_t count,
                                   const char* what) {
  std::vector<NodeIndex> index(batch);
  for (int64_t k = 0; k < count; ++k) {
    GPULEARN_EXPECTS(items[k].tree >= 0 && items[k].tree < batch, what, " ", k,
                     " names a tree outside the batch");
    index[items[k].tree].add(items[k].node, static_cast<int32_t>(k));
  }
  return index;
}

}  // namespace

template <typename T>
struct LocalForestData<T>::Impl {
  Context& ctx;
  Backend& be;
  MatrixView<const T> X;
  const int32_t* labels;  // host, or null (regressor)
  int64_t n_classes;
  MatrixView<const double> Y;
  VectorView<const T> sample_weight;
  int64_t offset, n_total, n, d;
  bool whole;

  std::vector<double> w;  // host weights, after check()
  // Binned codes (native) and their host copy for the node-wise passes.
  Scratch<uint8_t> codes;
  std::vector<uint8_t> host_codes;
  std::vector<int32_t> n_bins;
  // Quantised statistics (host and native) and the spec they were made for.
  GrowSpec spec;
  int rw = 1;
  std::vector<int64_t> row_q;
  Scratch<int64_t> row_q_native;
  Scratch<int32_t> labels_native;
  // The current batch: per tree, each row's draws (in-bag multiplicity), its count in the tree
  // (0 for weight-0 rows) and its node (-1: out of the tree or handed off).
  int64_t batch = 0;
  std::vector<int32_t> drawn, counts, node;
  bool touched = false;  // a node-wise pass moved rows: whole-tree growth no longer applies
  std::vector<std::vector<char>> in_bag;  // per kept tree

  Impl(Context& c, MatrixView<const T> x, const int32_t* l, int64_t nc, MatrixView<const double> y,
       VectorView<const T> sw, int64_t off, int64_t total)
      : ctx(c), be(c.backend()), X(x), labels(l), n_classes(nc), Y(y), sample_weight(sw),
        offset(off), n_total(total), n(x.rows), d(x.cols), whole(off == 0 && total == x.rows) {}

  const uint8_t* codes_on_host() {
    if (be.native_space() == MemorySpace::kHost) return codes.data;
    if (host_codes.empty() && n * d > 0) {
      host_codes.resize(n * d);
      be.copy(host_codes.data(), MemorySpace::kHost, codes.data, be.native_space(), n * d);
    }
    return host_codes.data();
  }

  // Each in-bag row's node per batch tree, every one at the root until a split moves it.
  std::vector<int32_t>& nodes() {
    if (node.empty() && !counts.empty()) {
      node.resize(counts.size());
      for (size_t k = 0; k < counts.size(); ++k) node[k] = counts[k] > 0 ? 0 : -1;
    }
    return node;
  }

  // Row i's weight in quanta in batch tree b.
  int64_t row_weight(int64_t b, int64_t i, const double* mult) const {
    const double m =
        mult == nullptr || spec.n_classes == 0 ? 1.0 : mult[b * spec.n_classes + labels[i]];
    return fr::row_weight(counts[b * n + i], row_q[i * rw], m);
  }

  // Adds row i of batch tree b to the statistics st.
  void add_row(int64_t* st, int64_t b, int64_t i, const double* mult) const {
    const int ch = spec.n_channels;
    const int64_t wq = row_weight(b, i, mult);
    if (spec.n_classes > 0) {
      st[labels[i]] += wq;
    } else {
      const int64_t* q = &row_q[i * rw];
      const int64_t c = counts[b * n + i];
      st[0] += wq;
      for (int k = 1; k < ch - 1; ++k) st[k] += c * q[k];
    }
    st[ch - 1] += 1;
  }
};

template <typename T>
LocalForestData<T>::LocalForestData(Context& ctx, MatrixView<const T> X, const int32_t* labels,
                                    int64_t n_classes, MatrixView<const double> Y,
                                    VectorView<const T> sample_weight, int64_t offset,
                                    int64_t n_total)
    : impl_(std::make_unique<Impl>(ctx, X, labels, n_classes, Y, sample_weight, offset,
                                   n_total)) {
  GPULEARN_EXPECTS(offset >= 0 && offset + X.rows <= n_total, "rows [", offset, ", ",
                   offset + X.rows, ") are outside the data set's ", n_total, " rows");
  GPULEARN_EXPECTS(sample_weight.empty() || sample_weight.size == X.rows, "sample_weight has ",
                   sample_weight.size, " entries but X has ", X.rows, " samples");
  if (labels == nullptr) {
    GPULEARN_EXPECTS(Y.rows == X.rows && Y.cols >= 1, "y has ", Y.rows, " rows for ", X.rows,
                     " samples (and needs at least one output)");
    GPULEARN_EXPECTS(Y.space == MemorySpace::kHost, "Y must be in host memory");
  }
}

template <typename T>
LocalForestData<T>::~LocalForestData() = default;

template <typename T>
int64_t LocalForestData<T>::n_rows() {
  return impl_->n_total;
}

template <typename T>
int64_t LocalForestData<T>::n_features() {
  return impl_->d;
}

template <typename T>
ForestDataRange LocalForestData<T>::check() {
  Impl& m = *impl_;
  detail::require_readable(m.be, m.X.space, "X");
  if (m.n > 0) detail::checked_max_abs(m.be, m.X, "X");
  ForestDataRange r;
  m.w.assign(m.n, 1.0);
  r.weight_sum = static_cast<double>(m.n);
  if (!m.sample_weight.empty()) {
    detail::checked_weights(m.be, m.sample_weight);
    const std::vector<T> w = detail::to_host(m.be, m.sample_weight);
    r.weight_sum = 0;
    r.max_weight = 0;
    for (int64_t i = 0; i < m.n; ++i) {
      r.weight_sum += (m.w[i] = w[i]);
      r.max_weight = std::max(r.max_weight, m.w[i]);
    }
  }
  if (m.labels != nullptr) {
    for (int64_t i = 0; i < m.n; ++i) {
      GPULEARN_EXPECTS(m.labels[i] >= 0 && m.labels[i] < m.n_classes, "label ", m.labels[i],
                       " of row ", m.offset + i, " is outside [0, ", m.n_classes, ")");
    }
  }
  return r;
}

template <typename T>
void LocalForestData<T>::target_ranges(const double* mean, double* out) {
  Impl& m = *impl_;
  out[0] = out[1] = 0;
  for (int64_t i = 0; i < m.n; ++i) {
    for (int64_t j = 0; j < m.Y.cols; ++j) {
      const double y = m.Y.row(i)[j];
      GPULEARN_EXPECTS(std::isfinite(y), "Input y contains NaN or infinity.");
      const double yc = y - mean[j];
      out[0] = std::max(out[0], std::abs(m.w[i] * yc));
      out[1] = std::max(out[1], m.w[i] * yc * yc);
    }
  }
}

template <typename T>
void LocalForestData<T>::target_sums(int w_exp, int y_exp, int64_t* sums) {
  Impl& m = *impl_;
  const int64_t k = m.Y.cols;
  std::fill_n(sums, 1 + k, int64_t{0});
  for (int64_t i = 0; i < m.n; ++i) {
    sums[0] += forest_fit::quantise(m.w[i], w_exp);
    for (int64_t j = 0; j < k; ++j) sums[1 + j] += forest_fit::quantise(m.w[i] * m.Y.row(i)[j], y_exp);
  }
}

template <typename T>
void LocalForestData<T>::sample_rows(const int64_t* idx, int64_t count, double* out) {
  Impl& m = *impl_;
  std::vector<int64_t> local(count);
  for (int64_t k = 0; k < count; ++k) {
    GPULEARN_EXPECTS(idx[k] >= m.offset && idx[k] < m.offset + m.n, "row ", idx[k],
                     " is not in rows [", m.offset, ", ", m.offset + m.n, ")");
    local[k] = idx[k] - m.offset;
  }
  forest_fit::sample_rows(m.be, m.X, local.data(), count, out);
}

template <typename T>
void LocalForestData<T>::bin(const double* edges, const int64_t* offsets, T* bin_min, T* bin_max) {
  Impl& m = *impl_;
  m.n_bins.resize(m.d);
  for (int64_t j = 0; j < m.d; ++j) {
    const int64_t count = offsets[j + 1] - offsets[j];
    GPULEARN_EXPECTS(count >= 0 && count < fr::kMaxBins, "feature ", j, " has ", count,
                     " bin edges; at most ", fr::kMaxBins - 1, " are supported");
    m.n_bins[j] = static_cast<int32_t>(count) + 1;
  }
  m.codes = Scratch<uint8_t>(m.be, checked_mul(m.n, m.d));
  m.host_codes.clear();
  if (m.n > 0) {
    m.be.template primitives<detail::EnsemblePrimitives<T>>().forest_bin(m.X, edges, offsets,
                                                                         m.codes.data, bin_min,
                                                                         bin_max);
  }
}

template <typename T>
void LocalForestData<T>::quantise(const GrowSpec& spec, const double* mean) {
  Impl& m = *impl_;
  m.spec = spec;
  m.rw = fr::row_width(spec);
  const int w_exp = -std::ilogb(spec.w_unit);
  m.row_q.assign(checked_mul(m.n, m.rw), 0);
  for (int64_t i = 0; i < m.n; ++i) {
    int64_t* q = &m.row_q[i * m.rw];
    q[0] = forest_fit::quantise(m.w[i], w_exp);
    if (m.w[i] > 0 && q[0] == 0) q[0] = 1;
  }
  if (spec.n_classes == 0) {
    const int y_exp = -std::ilogb(spec.y_unit), y2_exp = -std::ilogb(spec.y2_unit);
    const int64_t k = spec.n_outputs;
    for (int64_t i = 0; i < m.n; ++i) {
      int64_t* q = &m.row_q[i * m.rw];
      for (int64_t j = 0; j < k; ++j) {
        const double yc = m.Y.row(i)[j] - mean[j];
        q[1 + j] = forest_fit::quantise(m.w[i] * yc, y_exp);
        q[1 + k + j] = forest_fit::quantise(m.w[i] * yc * yc, y2_exp);
      }
    }
  }
  // The whole-tree growth reads them in native memory.
  const MemorySpace native = m.be.native_space();
  m.row_q_native = Scratch<int64_t>(m.be, static_cast<int64_t>(m.row_q.size()));
  m.be.copy(m.row_q_native.data, native, m.row_q.data(), MemorySpace::kHost,
            static_cast<int64_t>(m.row_q.size() * sizeof(int64_t)));
  if (m.labels != nullptr) {
    m.labels_native = Scratch<int32_t>(m.be, m.n);
    m.be.copy(m.labels_native.data, native, m.labels, MemorySpace::kHost,
              m.n * int64_t(sizeof(int32_t)));
  }
}

template <typename T>
void LocalForestData<T>::draw(const uint64_t* keys, int64_t n_trees, int64_t n_draws,
                              bool bootstrap, double* class_draws) {
  Impl& m = *impl_;
  m.batch = n_trees;
  m.touched = false;
  const int64_t n = m.n;
  m.drawn.assign(checked_mul(n_trees, n), bootstrap ? 0 : 1);
  m.counts.resize(m.drawn.size());
  m.node.clear();  // made by the first node-wise pass (never, for whole trees)
  detail::parallel_for(n_trees, m.ctx.n_threads(), [&](int64_t b) {
    int32_t* drawn = &m.drawn[b * n];
    if (bootstrap) {
      // Every draw of the whole data set (a pure function of the key and the draw's index);
      // this part keeps those that land in its rows.
      const uint64_t stream = fr::hash2(keys[b], 0xB0075742ULL);
      const uint64_t total = static_cast<uint64_t>(m.n_total);
      for (int64_t j = 0; j < n_draws; ++j) {
        const int64_t row =
            static_cast<int64_t>(fr::bounded(fr::hash2(stream, static_cast<uint64_t>(j)), total));
        if (row >= m.offset && row < m.offset + n) ++drawn[row - m.offset];
      }
    }
    for (int64_t i = 0; i < n; ++i) m.counts[b * n + i] = m.w[i] > 0 ? drawn[i] : 0;
  });
  if (class_draws != nullptr) {
    std::fill_n(class_draws, n_trees * m.n_classes, 0.0);
    for (int64_t b = 0; b < n_trees; ++b) {
      for (int64_t i = 0; i < n; ++i) {
        class_draws[b * m.n_classes + m.labels[i]] += m.drawn[b * n + i];
      }
    }
  }
}

template <typename T>
void LocalForestData<T>::root_stats(const GrowSpec& spec, const double* mult, int64_t* stats) {
  Impl& m = *impl_;
  const int ch = spec.n_channels;
  std::fill_n(stats, m.batch * ch, int64_t{0});
  detail::parallel_for(m.batch, m.ctx.n_threads(), [&](int64_t b) {
    for (int64_t i = 0; i < m.n; ++i) {
      if (m.counts[b * m.n + i] > 0) m.add_row(stats + b * ch, b, i, mult);
    }
  });
}

template <typename T>
int64_t LocalForestData<T>::subtree_rows() {
  return impl_->whole ? std::numeric_limits<int64_t>::max() : 0;
}

template <typename T>
void LocalForestData<T>::grow_subtrees(const GrowSpec& spec, const double* mult,
                                       const SubtreeRequest* requests, int64_t count,
                                       std::vector<GrownTree>& trees) {
  Impl& m = *impl_;
  GPULEARN_EXPECTS(m.whole, "a block of rows grows no subtree: gather its nodes' rows");
  bool roots = !m.touched;
  for (int64_t r = 0; r < count && roots; ++r) roots = requests[r].node == 0;
  if (!roots) {  // nodes below a root: their rows, grown on the host
    const NodeRows rows = node_rows(requests, count);
    grow_gathered(spec, mult, m.n_bins.data(), requests, count, rows, m.ctx.n_threads(), trees);
    return;
  }
  // Whole trees: the backend's grow_trees, on the counts of the requested trees.
  const int64_t n = m.n;
  std::vector<int32_t> counts(checked_mul(count, n));
  std::vector<double> tree_mult;
  std::vector<uint64_t> keys(count);
  for (int64_t r = 0; r < count; ++r) {
    const int64_t b = requests[r].tree;
    GPULEARN_EXPECTS(b >= 0 && b < m.batch, "tree ", b, " is not in the batch");
    std::copy_n(&m.counts[b * n], n, &counts[r * n]);
    keys[r] = requests[r].key;
    if (mult != nullptr && spec.n_classes > 0) {
      tree_mult.insert(tree_mult.end(), mult + b * spec.n_classes,
                       mult + (b + 1) * spec.n_classes);
    }
  }
  fr::TrainingSet data;
  data.codes = m.codes.data;
  data.n = n;
  data.d = m.d;
  data.n_bins = m.n_bins.data();
  data.labels = m.labels != nullptr ? m.labels_native.data : nullptr;
  data.row_q = m.row_q_native.data;
  m.be.template primitives<detail::EnsemblePrimitives<T>>().grow_trees(
      data, spec, count, counts.data(), tree_mult.empty() ? nullptr : tree_mult.data(),
      keys.data(), trees);
}

template <typename T>
void LocalForestData<T>::histograms(const GrowSpec& spec, const double* mult,
                                    const HistogramRequest* requests, int64_t count,
                                    int64_t* hist) {
  Impl& m = *impl_;
  const int ch = spec.n_channels;
  const uint8_t* codes = m.codes_on_host();
  // Per tree: its requested nodes, each with its features and where their histograms go.
  struct Wanted {
    std::vector<int32_t> features;
    std::vector<int64_t> at;
  };
  std::vector<NodeIndex> index(m.batch);
  std::vector<std::vector<Wanted>> wanted(m.batch);
  int64_t total = 0;
  for (int64_t r = 0; r < count; ++r) {
    const HistogramRequest& q = requests[r];
    GPULEARN_EXPECTS(q.tree >= 0 && q.tree < m.batch && q.feature >= 0 && q.feature < m.d,
                     "histogram request ", r, " is out of range");
    int32_t e = index[q.tree][q.node];
    if (e < 0) {
      e = static_cast<int32_t>(wanted[q.tree].size());
      wanted[q.tree].emplace_back();
      index[q.tree].add(q.node, e);
    }
    wanted[q.tree][e].features.push_back(q.feature);
    wanted[q.tree][e].at.push_back(total);
    total += int64_t{m.n_bins[q.feature]} * ch;
  }
  std::fill_n(hist, total, int64_t{0});
  const std::vector<int32_t>& nodes = m.nodes();
  detail::parallel_for(m.batch, m.ctx.n_threads(), [&](int64_t b) {
    if (wanted[b].empty()) return;
    const int32_t* node = &nodes[b * m.n];
    std::vector<int64_t> st(ch);
    for (int64_t i = 0; i < m.n; ++i) {
      const int32_t e = index[b][node[i]];
      if (e < 0) continue;
      std::fill(st.begin(), st.end(), int64_t{0});
      m.add_row(st.data(), b, i, mult);
      const Wanted& wn = wanted[b][e];
      const uint8_t* row = codes + i * m.d;
      for (size_t k = 0; k < wn.features.size(); ++k) {
        int64_t* h = hist + wn.at[k] + int64_t{row[wn.features[k]]} * ch;
        for (int c = 0; c < ch; ++c) h[c] += st[c];
      }
    }
  });
}

template <typename T>
void LocalForestData<T>::split(const NodeSplit* splits, int64_t count) {
  Impl& m = *impl_;
  m.touched = true;
  const uint8_t* codes = m.codes_on_host();
  for (int64_t s = 0; s < count; ++s) {
    GPULEARN_EXPECTS(splits[s].feature >= 0 && splits[s].feature < m.d, "split ", s,
                     " names a feature out of range");
  }
  const std::vector<NodeIndex> index = index_nodes(m.batch, splits, count, "split");
  std::vector<int32_t>& nodes = m.nodes();
  detail::parallel_for(m.batch, m.ctx.n_threads(), [&](int64_t b) {
    int32_t* node = &nodes[b * m.n];
    for (int64_t i = 0; i < m.n; ++i) {
      const int32_t s = index[b][node[i]];
      if (s < 0) continue;
      const NodeSplit& sp = splits[s];
      node[i] = codes[i * m.d + sp.feature] <= sp.bin_lo ? sp.left : sp.right;
    }
  });
}

template <typename T>
NodeRows LocalForestData<T>::node_rows(const SubtreeRequest* requests, int64_t count) {
  Impl& m = *impl_;
  m.touched = true;
  const uint8_t* codes = m.codes_on_host();
  const std::vector<NodeIndex> index = index_nodes(m.batch, requests, count, "subtree request");
  NodeRows out;
  out.n_features = m.d;
  out.row_width = m.rw;
  const std::vector<int32_t>& nodes = m.nodes();
  for (int64_t b = 0; b < m.batch; ++b) {
    const int32_t* node = &nodes[b * m.n];
    for (int64_t i = 0; i < m.n; ++i) {
      const int32_t r = index[b][node[i]];
      if (r < 0) continue;
      out.node.push_back(r);
      out.counts.push_back(m.counts[b * m.n + i]);
      if (m.labels != nullptr) out.labels.push_back(m.labels[i]);
      out.codes.insert(out.codes.end(), codes + i * m.d, codes + (i + 1) * m.d);
      out.row_q.insert(out.row_q.end(), &m.row_q[i * m.rw], &m.row_q[(i + 1) * m.rw]);
    }
  }
  return out;
}

template <typename T>
void LocalForestData<T>::keep_in_bag(int64_t n_trees) {
  Impl& m = *impl_;
  GPULEARN_EXPECTS(n_trees <= m.batch, "only ", m.batch, " trees were drawn");
  for (int64_t b = 0; b < n_trees; ++b) {
    m.in_bag.emplace_back(m.n);
    for (int64_t i = 0; i < m.n; ++i) m.in_bag.back()[i] = m.drawn[b * m.n + i] > 0;
  }
}

template <typename T>
void LocalForestData<T>::out_of_bag(const ForestView& forest, double* value, int64_t* count) {
  Impl& m = *impl_;
  // Rows per traversal call (bounds the leaves buffer).
  constexpr int64_t kChunkRows = 1 << 16;
  const int64_t width = forest.value_width, n_trees = forest.n_trees;
  GPULEARN_EXPECTS(static_cast<int64_t>(m.in_bag.size()) == n_trees, "the forest has ", n_trees,
                   " trees but ", m.in_bag.size(), " samples were kept");
  const PreparedForest<T> prepared(forest);
  std::vector<int64_t> leaves;
  for (int64_t r0 = 0; r0 < m.n; r0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, m.n - r0);
    leaves.resize(rows * n_trees);
    random_forest_apply<T>(m.ctx, prepared, m.X.block_rows(r0, rows), leaves.data());
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t g = m.offset + r0 + i;
      double* out = value + g * width;
      std::fill_n(out, width, 0.0);
      count[g] = 0;
      for (int64_t t = 0; t < n_trees; ++t) {
        if (m.in_bag[t][r0 + i]) continue;
        const double* v =
            forest.value + (forest.tree_offsets[t] + leaves[i * n_trees + t]) * width;
        for (int64_t c = 0; c < width; ++c) out[c] += v[c];
        ++count[g];
      }
      if (count[g] > 0) {
        for (int64_t c = 0; c < width; ++c) out[c] /= static_cast<double>(count[g]);
      }
    }
  }
}

uint64_t forest_tree_key(uint64_t seed, int64_t tree) { return fr::tree_key(seed, tree); }

void grow_gathered(const GrowSpec& spec, const double* mult, const int32_t* n_bins,
                   const SubtreeRequest* requests, int64_t count, const NodeRows& rows,
                   int n_threads, std::vector<GrownTree>& trees) {
  const int64_t d = rows.n_features, rw = rows.row_width, total = rows.rows();
  GPULEARN_EXPECTS(d == spec.n_features && rw == fr::row_width(spec) &&
                       static_cast<int64_t>(rows.counts.size()) == total &&
                       static_cast<int64_t>(rows.codes.size()) == total * d &&
                       static_cast<int64_t>(rows.row_q.size()) == total * rw &&
                       (spec.n_classes == 0 || static_cast<int64_t>(rows.labels.size()) == total),
                   "the gathered node rows do not match the forest's shape");
  // Each request's rows, in their gathered order.
  std::vector<std::vector<int64_t>> members(count);
  for (int64_t i = 0; i < total; ++i) {
    GPULEARN_EXPECTS(rows.node[i] >= 0 && rows.node[i] < count, "gathered row ", i,
                     " names no requested node");
    members[rows.node[i]].push_back(i);
  }
  trees.assign(count, GrownTree{});
  detail::parallel_for(count, n_threads, [&](int64_t r) {
    const SubtreeRequest& q = requests[r];
    const std::vector<int64_t>& mine = members[r];
    const int64_t m = static_cast<int64_t>(mine.size());
    std::vector<uint8_t> codes(m * d);
    std::vector<int64_t> row_q(m * rw);
    std::vector<int32_t> labels, counts(m);
    for (int64_t k = 0; k < m; ++k) {
      const int64_t i = mine[k];
      std::copy_n(&rows.codes[i * d], d, &codes[k * d]);
      std::copy_n(&rows.row_q[i * rw], rw, &row_q[k * rw]);
      counts[k] = rows.counts[i];
      if (spec.n_classes > 0) labels.push_back(rows.labels[i]);
    }
    fr::TrainingSet data;
    data.codes = codes.data();
    data.n = m;
    data.d = d;
    data.n_bins = n_bins;
    data.labels = labels.empty() ? nullptr : labels.data();
    data.row_q = row_q.data();
    // Depths count from the node: the tree's depth limit is shortened by the node's depth.
    GrowSpec s = spec;
    if (s.max_depth >= 0) s.max_depth = std::max<int64_t>(0, s.max_depth - q.depth);
    const double* tree_mult =
        mult == nullptr || spec.n_classes == 0 ? nullptr : mult + int64_t{q.tree} * spec.n_classes;
    std::vector<GrownTree> one;
    detail::grow_trees_cpu(1, data, s, 1, counts.data(), tree_mult, &q.key, one, &q.root_weight);
    trees[r] = std::move(one[0]);
  });
}

template class LocalForestData<float>;
template class LocalForestData<double>;

}  // namespace gpulearn::ensemble
