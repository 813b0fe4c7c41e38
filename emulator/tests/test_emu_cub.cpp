// The emulator's CUB and Thrust stand-ins (emulator/include/cub, emulator/include/thrust):
// each algorithm against a host reference on random data with duplicates, CUB's key order
// (floating point, bit ranges, descending), segments, and the protocol: two-phase temporary
// storage, stream order, DoubleBuffer selectors, and the faults a GPU would raise.
#include <gtest/gtest.h>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cub/cub.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <cub/device/device_select.cuh>
#include <functional>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "device_array.hpp"

namespace {

// ---- Helpers ------------------------------------------------------------------------------------

using gpulearn_emu_test::DeviceArray;

/// Device temporary storage of exactly `bytes` bytes.
class Storage {
 public:
  explicit Storage(size_t bytes) {
    EXPECT_EQ(cudaMalloc(&p_, std::max<size_t>(bytes, 1)), cudaSuccess);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() { cudaFree(p_); }
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

template <typename T>
std::vector<T> random_ints(size_t n, T lo, T hi, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <typename T>
std::vector<T> iota_values(size_t n) {
  std::vector<T> v(n);
  std::iota(v.begin(), v.end(), T{0});
  return v;
}

/// Host reference: the pairs stably sorted by `key_of(key)` (ascending or descending).
template <typename K, typename V, typename KeyOf>
void reference_sort(std::vector<K>& keys, std::vector<V>& values, KeyOf key_of, bool descending) {
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return descending ? key_of(keys[b]) < key_of(keys[a]) : key_of(keys[a]) < key_of(keys[b]);
  });
  std::vector<K> k(keys.size());
  std::vector<V> v(values.size());
  for (size_t i = 0; i < order.size(); ++i) {
    k[i] = keys[order[i]];
    v[i] = values[order[i]];
  }
  keys = std::move(k);
  values = std::move(v);
}

template <typename T>
std::vector<uint64_t> bits_of(const std::vector<T>& v) {
  std::vector<uint64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    uint64_t b = 0;
    std::memcpy(&b, &v[i], sizeof(T));
    out[i] = b;
  }
  return out;
}

template <typename T>
bool all_poison(const std::vector<T>& v) {
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(T); ++i) {
    if (b[i] != gpulearn_emu::kPoisonByte) return false;
  }
  return true;
}

// ---- DeviceRadixSort ----------------------------------------------------------------------------

/// Sorts (keys, values) with DeviceRadixSort::SortPairs[Descending] through both phases on the
/// default stream; checks the inputs are unchanged; returns the outputs.
template <typename K, typename V, typename NumItemsT = int64_t>
void device_sort(std::vector<K>& keys, std::vector<V>& values, bool descending, int begin_bit = 0,
                 int end_bit = sizeof(K) * 8) {
  const size_t n = keys.size();
  DeviceArray<K> kin(keys), kout(n);
  DeviceArray<V> vin(values), vout(n);
  size_t bytes = 0;
  auto call = [&](void* storage) {
    return descending ? cub::DeviceRadixSort::SortPairsDescending(
                            storage, bytes, static_cast<const K*>(kin.get()), kout.get(),
                            static_cast<const V*>(vin.get()), vout.get(), static_cast<NumItemsT>(n),
                            begin_bit, end_bit)
                      : cub::DeviceRadixSort::SortPairs(
                            storage, bytes, static_cast<const K*>(kin.get()), kout.get(),
                            static_cast<const V*>(vin.get()), vout.get(), static_cast<NumItemsT>(n),
                            begin_bit, end_bit);
  };
  ASSERT_EQ(call(nullptr), cudaSuccess);
  ASSERT_GE(bytes, 1u);
  Storage storage(bytes);
  ASSERT_EQ(call(storage.get()), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(bits_of(kin.download()), bits_of(keys)) << "the key input was modified";
  EXPECT_EQ(vin.download(), values) << "the value input was modified";
  keys = kout.download();
  values = vout.download();
}

template <typename K>
void check_ascending_and_descending(const std::vector<K>& keys) {
  for (bool descending : {false, true}) {
    std::vector<K> k = keys, expected_k = keys;
    std::vector<int32_t> v = iota_values<int32_t>(keys.size()), expected_v = v;
    reference_sort(
        expected_k, expected_v, [](K x) { return x; }, descending);
    device_sort(k, v, descending);
    EXPECT_EQ(bits_of(k), bits_of(expected_k)) << (descending ? "descending" : "ascending");
    EXPECT_EQ(v, expected_v) << (descending ? "descending" : "ascending");
  }
}

TEST(EmuCub, RadixSortPairsIntegersWithDuplicatesIsStable) {
  check_ascending_and_descending(random_ints<int32_t>(5000, -40, 40, 1));
  check_ascending_and_descending(random_ints<uint32_t>(3000, 0, 100, 2));
  check_ascending_and_descending(random_ints<int64_t>(3000, -1000000000000LL, 1000000000000LL, 3));
  check_ascending_and_descending(random_ints<uint64_t>(2000, 0, 7, 4));
  check_ascending_and_descending(random_ints<int8_t>(1000, -128, 127, 5));
  check_ascending_and_descending(random_ints<uint16_t>(1000, 0, 65535, 6));
  std::vector<int32_t> extremes = {
      std::numeric_limits<int32_t>::max(), 0, -1, std::numeric_limits<int32_t>::min(), 1, -1, 0};
  check_ascending_and_descending(extremes);
}

TEST(EmuCub, RadixSortPairsFloatingPointInCubOrder) {
  // Negative values, duplicates, infinities, and zeros of both signs: CUB treats -0.0 and +0.0
  // as equal (they keep their input order and their bits).
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(-6, 6);
  std::vector<float> f(4000);
  std::vector<double> d(4000);
  for (size_t i = 0; i < f.size(); ++i) {
    const int p = pick(rng);
    f[i] = p == 0   ? 0.0f
           : p == 1 ? -0.0f
           : p == 2 ? std::numeric_limits<float>::infinity()
           : p == 3 ? -std::numeric_limits<float>::infinity()
                    : static_cast<float>(p) * 0.25f;
    d[i] = p == 0 ? 0.0 : p == 1 ? -0.0 : static_cast<double>(p) * -1.5;
  }
  check_ascending_and_descending(f);
  check_ascending_and_descending(d);

  // The zeros explicitly: equal keys, input order kept in both directions.
  std::vector<float> zeros = {0.0f, -0.0f, 1.0f, -0.0f, 0.0f, -1.0f};
  std::vector<int32_t> v = iota_values<int32_t>(zeros.size());
  std::vector<float> k = zeros;
  device_sort(k, v, false);
  EXPECT_EQ(v, (std::vector<int32_t>{5, 0, 1, 3, 4, 2}));
  EXPECT_TRUE(!std::signbit(k[1]) && std::signbit(k[2]) && std::signbit(k[3]) &&
              !std::signbit(k[4]))
      << "the zeros keep their bits";
  k = zeros;
  v = iota_values<int32_t>(zeros.size());
  device_sort(k, v, true);
  EXPECT_EQ(v, (std::vector<int32_t>{2, 0, 1, 3, 4, 5}));
}

TEST(EmuCub, RadixSortPairsOrdersNaNsByTheirBits) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> k = {nan, 1.0f, -nan, -inf, inf, -2.0f};
  std::vector<int32_t> v = iota_values<int32_t>(k.size());
  device_sort(k, v, false);
  EXPECT_EQ(v, (std::vector<int32_t>{2, 3, 5, 1, 4, 0}));  // -NaN first, +NaN last
  k = {nan, 1.0f, -nan, -inf, inf, -2.0f};
  v = iota_values<int32_t>(k.size());
  device_sort(k, v, true);
  EXPECT_EQ(v, (std::vector<int32_t>{0, 4, 1, 5, 3, 2}));
}

TEST(EmuCub, RadixSortPairsComparesOnlyTheBitRange) {
  // Unsigned keys, bits [4, 12): the key's second and third nibbles.
  std::vector<uint32_t> keys = random_ints<uint32_t>(4000, 0, 0xFFFFFu, 8);
  for (bool descending : {false, true}) {
    std::vector<uint32_t> k = keys, ek = keys;
    std::vector<int64_t> v = iota_values<int64_t>(keys.size()), ev = v;
    reference_sort(
        ek, ev, [](uint32_t x) { return (x >> 4) & 0xFFu; }, descending);
    device_sort(k, v, descending, 4, 12);
    EXPECT_EQ(k, ek);
    EXPECT_EQ(v, ev);
  }
  // Signed keys: the range applies to the transformed key (sign bit inverted).
  std::vector<int32_t> skeys = random_ints<int32_t>(4000, -2000000000, 2000000000, 9);
  for (auto [lo, hi] : {std::pair{24, 32}, std::pair{0, 5}, std::pair{3, 3}}) {
    std::vector<int32_t> k = skeys, ek = skeys;
    std::vector<int32_t> v = iota_values<int32_t>(skeys.size()), ev = v;
    const int b = lo, e = hi;
    reference_sort(
        ek, ev,
        [&](int32_t x) {
          const uint64_t t = static_cast<uint32_t>(x) ^ 0x80000000u;
          return e == b ? 0 : (t >> b) & ((uint64_t{1} << (e - b)) - 1);
        },
        false);
    device_sort(k, v, false, lo, hi);
    EXPECT_EQ(k, ek) << "bits [" << lo << ", " << hi << ")";
    EXPECT_EQ(v, ev) << "bits [" << lo << ", " << hi << ")";
  }
  // 32-bit num_items, as the k-means label sort calls it.
  std::vector<int32_t> labels = random_ints<int32_t>(3000, 0, 9, 10);
  std::vector<int32_t> k = labels, ek = labels;
  std::vector<int32_t> v = iota_values<int32_t>(labels.size()), ev = v;
  reference_sort(
      ek, ev, [](int32_t x) { return x; }, false);
  device_sort<int32_t, int32_t, int32_t>(k, v, false, 0, 4);
  EXPECT_EQ(k, ek);
  EXPECT_EQ(v, ev);
}

TEST(EmuCub, RadixSortRejectsBadArgumentsAtTheCall) {
  size_t bytes = 0;
  const int32_t* kin = nullptr;
  int32_t* kout = nullptr;
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin, kout, kin, kout, 10, 0, 33),
            cudaErrorInvalidValue);
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin, kout, kin, kout, 10, 5, 4),
            cudaErrorInvalidValue);
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin, kout, kin, kout, -1),
            cudaErrorInvalidValue);
}

TEST(EmuCub, RadixSortDoubleBufferFlipsTheSelectorAndMayAlterBothBuffers) {
  const std::vector<int64_t> keys = random_ints<int64_t>(1000, -50, 50, 11);
  const std::vector<double> values = [&] {
    std::vector<double> v(keys.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5;
    return v;
  }();
  for (bool descending : {false, true}) {
    DeviceArray<int64_t> k0(keys), k1(keys.size());
    DeviceArray<double> v0(values), v1(values.size());
    cub::DoubleBuffer<int64_t> dk(k0.get(), k1.get());
    cub::DoubleBuffer<double> dv(v0.get(), v1.get());
    size_t bytes = 0;
    auto call = [&](void* s) {
      return descending ? cub::DeviceRadixSort::SortPairsDescending(s, bytes, dk, dv, keys.size())
                        : cub::DeviceRadixSort::SortPairs(s, bytes, dk, dv, keys.size());
    };
    ASSERT_EQ(call(nullptr), cudaSuccess);
    EXPECT_EQ(dk.selector, 0) << "a size query moved the selector";
    Storage storage(bytes);
    ASSERT_EQ(call(storage.get()), cudaSuccess);
    EXPECT_EQ(dk.selector, 1);
    EXPECT_EQ(dv.selector, 1);
    EXPECT_EQ(dk.Current(), k1.get());
    EXPECT_EQ(dv.Current(), v1.get());
    std::vector<int64_t> ek = keys;
    std::vector<double> ev = values;
    reference_sort(
        ek, ev, [](int64_t x) { return x; }, descending);
    EXPECT_EQ(k1.download(), ek);
    EXPECT_EQ(v1.download(), ev);
    EXPECT_TRUE(all_poison(k0.download())) << "the old current buffer should read as garbage";
    EXPECT_TRUE(all_poison(v0.download()));
  }
}

// ---- DeviceSegmentedRadixSort -------------------------------------------------------------------

struct Segments {
  std::vector<int> begin, end;
};

/// Reference: each non-empty segment stably sorted; everything else as it was.
template <typename K, typename V>
void reference_segmented(std::vector<K>& keys, std::vector<V>& values, const Segments& s,
                         bool descending, int end_bit) {
  for (size_t i = 0; i < s.begin.size(); ++i) {
    if (s.end[i] <= s.begin[i]) continue;
    std::vector<K> k(keys.begin() + s.begin[i], keys.begin() + s.end[i]);
    std::vector<V> v(values.begin() + s.begin[i], values.begin() + s.end[i]);
    reference_sort(
        k, v,
        [&](K x) {
          const uint64_t u = static_cast<uint64_t>(x);
          return end_bit >= 64 ? u : u & ((uint64_t{1} << end_bit) - 1);
        },
        descending);
    std::copy(k.begin(), k.end(), keys.begin() + s.begin[i]);
    std::copy(v.begin(), v.end(), values.begin() + s.begin[i]);
  }
}

TEST(EmuCub, SegmentedRadixSortDoubleBufferAsKnnCallsIt) {
  // Segments with gaps, empty ones (end == begin, end < begin) and a one-item segment, as the
  // k-NN sort does with 32-bit offsets; unsigned keys so that the partial bit range is the
  // reference's mask.
  const int items = 600;
  const Segments seg{{0, 50, 50, 120, 300, 301, 400, 590}, {40, 50, 110, 300, 301, 299, 580, 600}};
  const std::vector<uint64_t> keys = random_ints<uint64_t>(items, 0, 1 << 20, 12);
  const std::vector<int64_t> values = iota_values<int64_t>(items);
  for (int end_bit : {64, 9}) {
    for (bool descending : {false, true}) {
      DeviceArray<uint64_t> k0(keys), k1(std::vector<uint64_t>(items, 7));
      DeviceArray<int64_t> v0(values), v1(std::vector<int64_t>(items, -7));
      DeviceArray<int> begin(seg.begin), end(seg.end);
      cub::DoubleBuffer<uint64_t> dk(k0.get(), k1.get());
      cub::DoubleBuffer<int64_t> dv(v0.get(), v1.get());
      size_t bytes = 0;
      auto call = [&](void* s) {
        const int* b = begin.get();
        const int* e = end.get();
        return descending ? cub::DeviceSegmentedRadixSort::SortPairsDescending(
                                s, bytes, dk, dv, items, static_cast<int>(seg.begin.size()), b, e,
                                0, end_bit)
                          : cub::DeviceSegmentedRadixSort::SortPairs(
                                s, bytes, dk, dv, items, static_cast<int>(seg.begin.size()), b, e,
                                0, end_bit);
      };
      ASSERT_EQ(call(nullptr), cudaSuccess);
      Storage storage(bytes);
      ASSERT_EQ(call(storage.get()), cudaSuccess);
      ASSERT_EQ(dk.selector, 1);
      ASSERT_EQ(dv.selector, 1);
      std::vector<uint64_t> ek = keys;
      std::vector<int64_t> ev = values;
      reference_segmented(ek, ev, seg, descending, end_bit);
      const std::vector<uint64_t> got_k = k1.download();
      const std::vector<int64_t> got_v = v1.download();
      const std::vector<uint64_t> old_k = k0.download();
      std::vector<bool> inside(items, false);
      for (size_t i = 0; i < seg.begin.size(); ++i) {
        for (int j = seg.begin[i]; j < seg.end[i]; ++j) inside[j] = true;
      }
      for (int j = 0; j < items; ++j) {
        if (inside[j]) {
          EXPECT_EQ(got_k[j], ek[j]) << j;
          EXPECT_EQ(got_v[j], ev[j]) << j;
          EXPECT_EQ(old_k[j], ~uint64_t{0}) << "the old buffer, inside a segment, is scratch";
        } else {
          EXPECT_EQ(got_k[j], 7u) << "item " << j << " outside every segment was written";
          EXPECT_EQ(got_v[j], -7) << "item " << j << " outside every segment was written";
          EXPECT_EQ(old_k[j], keys[j]) << "item " << j << " outside every segment was touched";
        }
      }
    }
  }
}

TEST(EmuCub, SegmentedRadixSortPointersWithOffsetIterators) {
  // Contiguous segments given as offsets and offsets + 1 (64-bit), and as counting iterators.
  const std::vector<int64_t> offsets = {0, 10, 10, 35, 100};
  const std::vector<float> keys = [] {
    std::vector<float> k(100);
    std::mt19937 rng(13);
    std::uniform_int_distribution<int> d(-5, 5);
    for (auto& x : k) x = d(rng) == 0 ? -0.0f : static_cast<float>(d(rng));
    return k;
  }();
  const std::vector<int32_t> values = iota_values<int32_t>(keys.size());
  DeviceArray<float> kin(keys), kout(keys.size());
  DeviceArray<int32_t> vin(values), vout(values.size());
  DeviceArray<int64_t> off(offsets);
  size_t bytes = 0;
  const int64_t* o = off.get();
  ASSERT_EQ(cub::DeviceSegmentedRadixSort::SortPairs(
                nullptr, bytes, static_cast<const float*>(kin.get()), kout.get(),
                static_cast<const int32_t*>(vin.get()), vout.get(), 100, 4, o, o + 1),
            cudaSuccess);
  Storage storage(bytes);
  ASSERT_EQ(cub::DeviceSegmentedRadixSort::SortPairs(
                storage.get(), bytes, static_cast<const float*>(kin.get()), kout.get(),
                static_cast<const int32_t*>(vin.get()), vout.get(), 100, 4, o, o + 1),
            cudaSuccess);
  std::vector<float> ek = keys;
  std::vector<int32_t> ev = values;
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    std::vector<float> k(ek.begin() + offsets[s], ek.begin() + offsets[s + 1]);
    std::vector<int32_t> v(ev.begin() + offsets[s], ev.begin() + offsets[s + 1]);
    reference_sort(
        k, v, [](float x) { return x; }, false);
    std::copy(k.begin(), k.end(), ek.begin() + offsets[s]);
    std::copy(v.begin(), v.end(), ev.begin() + offsets[s]);
  }
  EXPECT_EQ(bits_of(kout.download()), bits_of(ek));
  EXPECT_EQ(vout.download(), ev);
  EXPECT_EQ(bits_of(kin.download()), bits_of(keys)) << "the input was modified";

  // Segments of one item each from counting iterators: a copy.
  DeviceArray<float> kout2(keys.size());
  DeviceArray<int32_t> vout2(values.size());
  size_t bytes2 = 0;
  const thrust::counting_iterator<int> first(0);
  ASSERT_EQ(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                nullptr, bytes2, static_cast<const float*>(kin.get()), kout2.get(),
                static_cast<const int32_t*>(vin.get()), vout2.get(), 100, 100, first, first + 1),
            cudaSuccess);
  Storage storage2(bytes2);
  ASSERT_EQ(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                storage2.get(), bytes2, static_cast<const float*>(kin.get()), kout2.get(),
                static_cast<const int32_t*>(vin.get()), vout2.get(), 100, 100, first, first + 1),
            cudaSuccess);
  EXPECT_EQ(bits_of(kout2.download()), bits_of(keys));
  EXPECT_EQ(vout2.download(), values);
}

// ---- DeviceSelect -------------------------------------------------------------------------------

struct MultipleOf {
  int64_t m;
  bool operator()(const int64_t& i) const { return m != 0 && i % m == 0; }
};

/// Reads device memory from the functor, as k-means' draw predicate does.
struct AboveThreshold {
  const float* p;
  float t;
  bool operator()(const int64_t& i) const { return p[i] > t; }
};

template <typename In, typename Op>
std::pair<std::vector<int64_t>, int64_t> device_select(In in, int64_t n, Op op, size_t out_size) {
  DeviceArray<int64_t> out(std::vector<int64_t>(out_size, -5));
  DeviceArray<int64_t> count(std::vector<int64_t>{-1});
  size_t bytes = 0;
  EXPECT_EQ(cub::DeviceSelect::If(nullptr, bytes, in, static_cast<int64_t*>(nullptr),
                                  static_cast<int64_t*>(nullptr), n, op),
            cudaSuccess);
  Storage storage(bytes);
  EXPECT_EQ(cub::DeviceSelect::If(storage.get(), bytes, in, out.get(), count.get(), n, op),
            cudaSuccess);
  return {out.download(), count.download()[0]};
}

TEST(EmuCub, SelectIfFromACountingIterator) {
  const thrust::counting_iterator<int64_t> rows(0);
  auto [out, count] = device_select(rows, 1000, MultipleOf{7}, 200);
  ASSERT_EQ(count, 143);
  for (int64_t j = 0; j < 143; ++j) EXPECT_EQ(out[j], 7 * j);
  EXPECT_EQ(out[143], -5) << "written past the selected items";

  auto [none_out, none] = device_select(rows, 1000, MultipleOf{0}, 4);
  EXPECT_EQ(none, 0);
  EXPECT_EQ(none_out, std::vector<int64_t>(4, -5));

  auto [all_out, all] = device_select(rows + 10, 300, MultipleOf{1}, 300);
  EXPECT_EQ(all, 300);
  for (int64_t j = 0; j < 300; ++j) EXPECT_EQ(all_out[j], j + 10);

  auto [empty_out, empty] = device_select(rows, 0, MultipleOf{1}, 1);
  EXPECT_EQ(empty, 0) << "the count is written even for no items";
}

TEST(EmuCub, SelectIfWithAPredicateThatReadsDeviceMemory) {
  std::vector<float> p(500);
  std::mt19937 rng(14);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (auto& x : p) x = u(rng);
  DeviceArray<float> dp(p);
  auto [out, count] = device_select(thrust::counting_iterator<int64_t>(0), 500,
                                    AboveThreshold{dp.get(), 0.7f}, 500);
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < 500; ++i) {
    if (p[i] > 0.7f) expected.push_back(i);
  }
  ASSERT_EQ(count, static_cast<int64_t>(expected.size()));
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), out.begin()));

  // A device-pointer input.
  const std::vector<int64_t> in = random_ints<int64_t>(800, -100, 100, 15);
  DeviceArray<int64_t> din(in);
  auto [out2, count2] =
      device_select(static_cast<const int64_t*>(din.get()), 800, MultipleOf{3}, 800);
  std::vector<int64_t> expected2;
  std::copy_if(in.begin(), in.end(), std::back_inserter(expected2),
               [](int64_t x) { return x % 3 == 0; });
  ASSERT_EQ(count2, static_cast<int64_t>(expected2.size()));
  EXPECT_TRUE(std::equal(expected2.begin(), expected2.end(), out2.begin()));
}

// ---- DeviceScan ---------------------------------------------------------------------------------

template <typename In, typename Out>
void device_exclusive_sum(const In* in, Out* out, int64_t n) {
  size_t bytes = 0;
  ASSERT_EQ(cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, out, n), cudaSuccess);
  Storage storage(bytes);
  ASSERT_EQ(cub::DeviceScan::ExclusiveSum(storage.get(), bytes, in, out, n), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

TEST(EmuCub, ExclusiveSumSeparateAndInPlace) {
  const std::vector<int64_t> in = random_ints<int64_t>(5000, -1000, 1000, 16);
  std::vector<int64_t> expected(in.size());
  std::exclusive_scan(in.begin(), in.end(), expected.begin(), int64_t{0});

  DeviceArray<int64_t> din(in), dout(in.size());
  device_exclusive_sum(static_cast<const int64_t*>(din.get()), dout.get(), 5000);
  EXPECT_EQ(dout.download(), expected);
  EXPECT_EQ(din.download(), in);

  DeviceArray<int64_t> inplace(in);
  device_exclusive_sum(static_cast<const int64_t*>(inplace.get()), inplace.get(), 5000);
  EXPECT_EQ(inplace.download(), expected);

  // int32 in place, as the forest's Scanner calls it (count + 1 items, the last one a 0).
  std::vector<int32_t> flags = random_ints<int32_t>(301, 0, 1, 17);
  flags.back() = 0;
  std::vector<int32_t> rank(flags.size());
  std::exclusive_scan(flags.begin(), flags.end(), rank.begin(), 0);
  DeviceArray<int32_t> df(flags), dr(flags.size());
  device_exclusive_sum(static_cast<const int32_t*>(df.get()), dr.get(), 301);
  EXPECT_EQ(dr.download(), rank);
}

TEST(EmuCub, ExclusiveSumAccumulatesAsCubDoes) {
  // uint8 input: the sum is an int (init + item), converted to the output's type on writing.
  const std::vector<uint8_t> in = {200, 100, 50, 7};
  DeviceArray<uint8_t> din(in);
  DeviceArray<uint8_t> out8(in.size());
  device_exclusive_sum(static_cast<const uint8_t*>(din.get()), out8.get(), 4);
  EXPECT_EQ(out8.download(), (std::vector<uint8_t>{0, 200, 44, 94}));
  DeviceArray<int32_t> out32(in.size());
  device_exclusive_sum(static_cast<const uint8_t*>(din.get()), out32.get(), 4);
  EXPECT_EQ(out32.download(), (std::vector<int32_t>{0, 200, 300, 350}));
}

// ---- The protocol -------------------------------------------------------------------------------

TEST(EmuCub, StorageSizeIsDeterministicAndGrowsWithTheProblem) {
  auto sort_bytes = [](int64_t n, int end_bit) {
    size_t bytes = 0;
    EXPECT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(nullptr),
                                              static_cast<int32_t*>(nullptr),
                                              static_cast<const int64_t*>(nullptr),
                                              static_cast<int64_t*>(nullptr), n, 0, end_bit),
              cudaSuccess);
    return bytes;
  };
  EXPECT_EQ(sort_bytes(1000, 32), sort_bytes(1000, 32));
  EXPECT_LT(sort_bytes(1000, 32), sort_bytes(1001, 32));
  EXPECT_LT(sort_bytes(1000, 8), sort_bytes(1000, 32));
  EXPECT_GE(sort_bytes(0, 32), 1u);
  auto segmented_bytes = [](int64_t n, int64_t segments) {
    cub::DoubleBuffer<float> k;
    cub::DoubleBuffer<int64_t> v;
    size_t bytes = 0;
    EXPECT_EQ(cub::DeviceSegmentedRadixSort::SortPairs(nullptr, bytes, k, v, n, segments,
                                                       static_cast<const int*>(nullptr),
                                                       static_cast<const int*>(nullptr)),
              cudaSuccess);
    return bytes;
  };
  EXPECT_LT(segmented_bytes(1000, 10), segmented_bytes(1000, 100));
  EXPECT_LT(segmented_bytes(1000, 10), segmented_bytes(100000, 10));
  size_t scan_small = 0, scan_large = 0;
  const int* none = nullptr;
  int* none_out = nullptr;
  ASSERT_EQ(cub::DeviceScan::ExclusiveSum(nullptr, scan_small, none, none_out, 10), cudaSuccess);
  ASSERT_EQ(cub::DeviceScan::ExclusiveSum(nullptr, scan_large, none, none_out, 10000000),
            cudaSuccess);
  EXPECT_GE(scan_small, 1u);
  EXPECT_LT(scan_small, scan_large);
}

TEST(EmuCub, TooLittleStorageIsAnErrorAndDoesNothing) {
  const std::vector<int32_t> keys = random_ints<int32_t>(3000, 0, 9, 18);
  DeviceArray<int32_t> kin(keys), kout(std::vector<int32_t>(keys.size(), 3));
  DeviceArray<int32_t> vin(keys), vout(std::vector<int32_t>(keys.size(), 3));
  size_t bytes = 0;
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(kin.get()),
                                            kout.get(), static_cast<const int32_t*>(vin.get()),
                                            vout.get(), 3000, 0, 4),
            cudaSuccess);
  Storage storage(bytes);
  size_t less = bytes - 1;
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(
                storage.get(), less, static_cast<const int32_t*>(kin.get()), kout.get(),
                static_cast<const int32_t*>(vin.get()), vout.get(), 3000, 0, 4),
            cudaErrorInvalidValue);
  // Storage sized for a smaller problem (smaller than the 16-byte granularity of the sizes).
  size_t smaller = 0;
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(
                nullptr, smaller, static_cast<const int32_t*>(kin.get()), kout.get(),
                static_cast<const int32_t*>(vin.get()), vout.get(), 2996, 0, 4),
            cudaSuccess);
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(
                storage.get(), smaller, static_cast<const int32_t*>(kin.get()), kout.get(),
                static_cast<const int32_t*>(vin.get()), vout.get(), 3000, 0, 4),
            cudaErrorInvalidValue);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << "the refusal must not be sticky";
  EXPECT_EQ(kout.download(), std::vector<int32_t>(keys.size(), 3));
  EXPECT_EQ(vout.download(), std::vector<int32_t>(keys.size(), 3));

  // The same for a DoubleBuffer: the selector stays.
  cub::DoubleBuffer<int32_t> dk(kin.get(), kout.get()), dv(vin.get(), vout.get());
  size_t db_bytes = 0;
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, db_bytes, dk, dv, 3000), cudaSuccess);
  size_t db_less = db_bytes - 1;
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(storage.get(), db_less, dk, dv, 3000),
            cudaErrorInvalidValue);
  EXPECT_EQ(dk.selector, 0);
  EXPECT_EQ(dv.selector, 0);

  // Select and scan.
  DeviceArray<int64_t> out(std::vector<int64_t>(10, 3)), count(std::vector<int64_t>{3});
  size_t sel_bytes = 0;
  const thrust::counting_iterator<int64_t> rows(0);
  ASSERT_EQ(
      cub::DeviceSelect::If(nullptr, sel_bytes, rows, out.get(), count.get(), 10, MultipleOf{1}),
      cudaSuccess);
  size_t sel_less = sel_bytes - 1;
  EXPECT_EQ(cub::DeviceSelect::If(storage.get(), sel_less, rows, out.get(), count.get(), 10,
                                  MultipleOf{1}),
            cudaErrorInvalidValue);
  size_t scan_bytes = 0;
  ASSERT_EQ(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes,
                                          static_cast<const int64_t*>(out.get()), out.get(), 10),
            cudaSuccess);
  size_t scan_less = scan_bytes - 1;
  EXPECT_EQ(cub::DeviceScan::ExclusiveSum(storage.get(), scan_less,
                                          static_cast<const int64_t*>(out.get()), out.get(), 10),
            cudaErrorInvalidValue);
  EXPECT_EQ(out.download(), std::vector<int64_t>(10, 3));
  EXPECT_EQ(count.download(), std::vector<int64_t>{3});
}

TEST(EmuCub, NothingHappensBeforeTheStreamIsSynchronised) {
  // A non-blocking stream: the synchronous copies below (legacy stream) do not wait for it.
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  {
    const std::vector<int32_t> keys = {5, 3, 9, 1};
    DeviceArray<int32_t> kin(keys), kout(std::vector<int32_t>(4, 0));
    DeviceArray<int32_t> vin(iota_values<int32_t>(4)), vout(std::vector<int32_t>(4, 0));
    size_t bytes = 0;
    ASSERT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(nullptr),
                                              static_cast<int32_t*>(nullptr),
                                              static_cast<const int32_t*>(nullptr),
                                              static_cast<int32_t*>(nullptr), 4, 0, 32, stream),
              cudaSuccess);
    Storage storage(bytes);
    ASSERT_EQ(cub::DeviceRadixSort::SortPairs(
                  storage.get(), bytes, static_cast<const int32_t*>(kin.get()), kout.get(),
                  static_cast<const int32_t*>(vin.get()), vout.get(), 4, 0, 32, stream),
              cudaSuccess);
    // The scan and the selection queue behind the sort, reading its output.
    DeviceArray<int32_t> prefix(std::vector<int32_t>(4, 0));
    size_t scan_bytes = 0;
    ASSERT_EQ(
        cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, static_cast<const int32_t*>(kout.get()),
                                      prefix.get(), 4, stream),
        cudaSuccess);
    Storage scan_storage(scan_bytes);
    ASSERT_EQ(cub::DeviceScan::ExclusiveSum(scan_storage.get(), scan_bytes,
                                            static_cast<const int32_t*>(kout.get()), prefix.get(),
                                            4, stream),
              cudaSuccess);
    DeviceArray<int64_t> sel(std::vector<int64_t>(4, 0)), count(std::vector<int64_t>{0});
    size_t sel_bytes = 0;
    const thrust::counting_iterator<int64_t> rows(0);
    ASSERT_EQ(cub::DeviceSelect::If(nullptr, sel_bytes, rows, sel.get(), count.get(), 4,
                                    MultipleOf{2}, stream),
              cudaSuccess);
    Storage sel_storage(sel_bytes);
    ASSERT_EQ(cub::DeviceSelect::If(sel_storage.get(), sel_bytes, rows, sel.get(), count.get(), 4,
                                    MultipleOf{2}, stream),
              cudaSuccess);

    EXPECT_EQ(kout.download(), std::vector<int32_t>(4, 0)) << "sorted before synchronisation";
    EXPECT_EQ(vout.download(), std::vector<int32_t>(4, 0));
    EXPECT_EQ(prefix.download(), std::vector<int32_t>(4, 0));
    EXPECT_EQ(count.download(), std::vector<int64_t>{0});

    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_EQ(kout.download(), (std::vector<int32_t>{1, 3, 5, 9}));
    EXPECT_EQ(vout.download(), (std::vector<int32_t>{3, 1, 0, 2}));
    EXPECT_EQ(prefix.download(), (std::vector<int32_t>{0, 1, 4, 9}));
    EXPECT_EQ(count.download(), std::vector<int64_t>{2});
    EXPECT_EQ(sel.download(), (std::vector<int64_t>{0, 2, 0, 0}));
  }
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST(EmuCub, DoubleBufferSelectorsChainThroughQueuedSorts) {
  // Sort by a secondary key, then stably by the primary one, following the selectors, before
  // anything has run: the k-NN pattern.
  const std::vector<uint32_t> primary = random_ints<uint32_t>(500, 0, 5, 19);
  const std::vector<uint32_t> secondary = random_ints<uint32_t>(500, 0, 1000, 20);
  std::vector<int64_t> idx = iota_values<int64_t>(500);
  DeviceArray<uint32_t> s0(secondary), s1(500), p0(primary), p1(500);
  DeviceArray<int64_t> i0(idx), i1(500), j0(500), j1(500);
  DeviceArray<int> off(std::vector<int>{0, 500});
  const int* b = off.get();
  cub::DoubleBuffer<uint32_t> sk(s0.get(), s1.get());
  cub::DoubleBuffer<int64_t> sv(i0.get(), i1.get());
  size_t bytes = 0;
  ASSERT_EQ(cub::DeviceSegmentedRadixSort::SortPairs(nullptr, bytes, sk, sv, 500, 1, b, b + 1),
            cudaSuccess);
  Storage storage(bytes);
  ASSERT_EQ(
      cub::DeviceSegmentedRadixSort::SortPairs(storage.get(), bytes, sk, sv, 500, 1, b, b + 1),
      cudaSuccess);
  // Gather the primary keys in the order of the first sort: on the host, after a sync.
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<int64_t> order(500);
  ASSERT_EQ(cudaMemcpy(order.data(), sv.Current(), 500 * sizeof(int64_t), cudaMemcpyDeviceToHost),
            cudaSuccess);
  std::vector<uint32_t> gathered(500);
  for (size_t i = 0; i < 500; ++i) gathered[i] = primary[order[i]];
  p0.upload(gathered);
  cub::DoubleBuffer<uint32_t> pk(p0.get(), p1.get());
  cub::DoubleBuffer<int64_t> pv(sv.Current(), sv.Alternate());
  ASSERT_EQ(
      cub::DeviceSegmentedRadixSort::SortPairs(storage.get(), bytes, pk, pv, 500, 1, b, b + 1),
      cudaSuccess);
  std::vector<int64_t> result(500);
  ASSERT_EQ(cudaMemcpy(result.data(), pv.Current(), 500 * sizeof(int64_t), cudaMemcpyDeviceToHost),
            cudaSuccess);
  std::vector<int64_t> expected = idx;
  std::stable_sort(expected.begin(), expected.end(), [&](int64_t x, int64_t y) {
    return std::pair(primary[x], secondary[x]) < std::pair(primary[y], secondary[y]);
  });
  EXPECT_EQ(result, expected);
}

// ---- Faults a GPU would raise (each in a child process: a fault is sticky) ----------------------

void sort_with_host_storage() {
  DeviceArray<int32_t> kin(std::vector<int32_t>{2, 1}), kout(2), vin(2), vout(2);
  size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(kin.get()),
                                  kout.get(), static_cast<const int32_t*>(vin.get()), vout.get(),
                                  2);
  std::vector<char> host(bytes);
  if (cub::DeviceRadixSort::SortPairs(host.data(), bytes, static_cast<const int32_t*>(kin.get()),
                                      kout.get(), static_cast<const int32_t*>(vin.get()),
                                      vout.get(), 2) != cudaSuccess) {
    std::exit(2);  // the call itself must succeed: the fault comes when the work runs
  }
  std::exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 3);
}

void sort_from_host_memory() {
  std::vector<int32_t> host_keys = {2, 1};
  DeviceArray<int32_t> kout(2), vin(2), vout(2);
  size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(host_keys.data()),
                                  kout.get(), static_cast<const int32_t*>(vin.get()), vout.get(),
                                  2);
  Storage storage(bytes);
  cub::DeviceRadixSort::SortPairs(storage.get(), bytes,
                                  static_cast<const int32_t*>(host_keys.data()), kout.get(),
                                  static_cast<const int32_t*>(vin.get()), vout.get(), 2);
  std::exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 3);
}

void sort_in_place() {
  DeviceArray<int32_t> k(std::vector<int32_t>{2, 1}), v(2), vout(2);
  size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(k.get()), k.get(),
                                  static_cast<const int32_t*>(v.get()), vout.get(), 2);
  Storage storage(bytes);
  cub::DeviceRadixSort::SortPairs(storage.get(), bytes, static_cast<const int32_t*>(k.get()),
                                  k.get(), static_cast<const int32_t*>(v.get()), vout.get(), 2);
  std::exit(cudaDeviceSynchronize() == cudaErrorLaunchFailure ? 0 : 3);
}

void segment_past_num_items() {
  DeviceArray<int32_t> k0(std::vector<int32_t>(10, 1)), k1(10), v0(10), v1(10);
  DeviceArray<int> off(std::vector<int>{0, 11});
  cub::DoubleBuffer<int32_t> dk(k0.get(), k1.get()), dv(v0.get(), v1.get());
  size_t bytes = 0;
  const int* o = off.get();
  cub::DeviceSegmentedRadixSort::SortPairs(nullptr, bytes, dk, dv, 10, 1, o, o + 1);
  Storage storage(bytes);
  cub::DeviceSegmentedRadixSort::SortPairs(storage.get(), bytes, dk, dv, 10, 1, o, o + 1);
  std::exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 3);
}

void scan_with_shifted_overlap() {
  DeviceArray<int64_t> a(std::vector<int64_t>(10, 1));
  size_t bytes = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const int64_t*>(a.get()), a.get() + 1,
                                9);
  Storage storage(bytes);
  cub::DeviceScan::ExclusiveSum(storage.get(), bytes, static_cast<const int64_t*>(a.get()),
                                a.get() + 1, 9);
  std::exit(cudaDeviceSynchronize() == cudaErrorLaunchFailure ? 0 : 3);
}

void select_into_host_memory() {
  std::vector<int64_t> host_out(10);
  DeviceArray<int64_t> count(1);
  size_t bytes = 0;
  const thrust::counting_iterator<int64_t> rows(0);
  cub::DeviceSelect::If(nullptr, bytes, rows, host_out.data(), count.get(), 10, MultipleOf{1});
  Storage storage(bytes);
  cub::DeviceSelect::If(storage.get(), bytes, rows, host_out.data(), count.get(), 10,
                        MultipleOf{1});
  std::exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 3);
}

/// The child re-executes the test binary: safe whatever threads the emulator has started.
void use_threadsafe_death_tests() {
#ifdef GTEST_FLAG_SET
  GTEST_FLAG_SET(death_test_style, "threadsafe");
#else
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
#endif
}

TEST(EmuCubDeathTest, TemporaryStorageInHostMemoryIsAnIllegalAddressWhenTheWorkRuns) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(sort_with_host_storage(), ::testing::ExitedWithCode(0),
              "cub::DeviceRadixSort::SortPairs: temporary storage .* is not device memory");
}

TEST(EmuCubDeathTest, PointerArgumentsMustBeDeviceAccessible) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(sort_from_host_memory(), ::testing::ExitedWithCode(0),
              "SortPairs: d_keys_in .* is not device-accessible");
  EXPECT_EXIT(select_into_host_memory(), ::testing::ExitedWithCode(0),
              "cub::DeviceSelect::If: d_out .* is not device-accessible");
}

TEST(EmuCubDeathTest, OverlappingRangesAreALaunchFailure) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(sort_in_place(), ::testing::ExitedWithCode(0),
              "the keys' input .* overlaps the keys' output");
  EXPECT_EXIT(scan_with_shifted_overlap(), ::testing::ExitedWithCode(0),
              "ExclusiveSum: the input .* overlaps the output");
}

TEST(EmuCubDeathTest, SegmentsOutsideTheItemsAreAnIllegalAddress) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(segment_past_num_items(), ::testing::ExitedWithCode(0),
              "segment 0 \\[0, 11\\) lies outside the num_items = 10 items");
}

// ---- thrust::counting_iterator ------------------------------------------------------------------

TEST(EmuThrust, CountingIteratorIsRandomAccess) {
  thrust::counting_iterator<int64_t> it(5);
  static_assert(std::is_same_v<std::iterator_traits<decltype(it)>::value_type, int64_t>);
  static_assert(std::is_same_v<std::iterator_traits<decltype(it)>::iterator_category,
                               std::random_access_iterator_tag>);
  EXPECT_EQ(*it, 5);
  EXPECT_EQ(it[10], 15);
  EXPECT_EQ(*(it + 3), 8);
  EXPECT_EQ(*(3 + it), 8);
  EXPECT_EQ((it + 7) - it, 7);
  EXPECT_EQ(*(it + 7 - 2), 10);
  EXPECT_TRUE(it < it + 1);
  EXPECT_TRUE(it + 1 > it);
  EXPECT_TRUE(it == thrust::make_counting_iterator<int64_t>(5));
  auto j = it;
  ++j;
  j += 4;
  --j;
  EXPECT_EQ(*j, 9);
  std::vector<int64_t> v(it, it + 4);
  EXPECT_EQ(v, (std::vector<int64_t>{5, 6, 7, 8}));
}

}  // namespace
