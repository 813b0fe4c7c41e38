// The core API on every machine: device parsing, views, size arithmetic, the error hierarchy,
// the CPU backend's input checks, contexts and build information. Nothing here needs a GPU; the
// few checks that depend on one are skipped with the reason when the machine has or lacks it.
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/backend.hpp"
#include "core/parallel.hpp"
#include "gpulearn/core/context.hpp"
#include "gpulearn/core/device.hpp"
#include "gpulearn/core/error.hpp"
#include "gpulearn/core/matrix.hpp"
#include "gpulearn/version.hpp"
#include "test_util.hpp"

namespace gpulearn {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

using ::gpulearn::test_util::ThrowsWith;

// ---- Device -------------------------------------------------------------------------------

TEST(DeviceTest, ParsesCpu) {
  const Device d = Device::parse("cpu");
  EXPECT_EQ(d.kind, DeviceKind::kCpu);
  EXPECT_EQ(d.index, 0);
  EXPECT_FALSE(d.is_cuda());
  EXPECT_EQ(d, Device::cpu());
}

TEST(DeviceTest, AutoAgreesWithCudaAvailability) {
  const Device d = Device::parse("auto");
  EXPECT_TRUE(d == Device::cpu() || d == Device::cuda(0)) << d.to_string();
  // An emulated device (the CUDA emulator's test build) is never picked by "auto".
  EXPECT_EQ(d.is_cuda(), cuda_available() && !cuda_emulated()) << d.to_string();
  EXPECT_EQ(Device::parse("AUTO"), d);
  EXPECT_EQ(Device::auto_device(), d);
}

TEST(DeviceTest, ParsesCudaWithAndWithoutOrdinal) {
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:0"), Device::cuda(0));
  const Device d = Device::parse("cuda:3");
  EXPECT_EQ(d.kind, DeviceKind::kCuda);
  EXPECT_EQ(d.index, 3);
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(Device::parse("cuda:12"), Device::cuda(12));
}

TEST(DeviceTest, ParsingIgnoresCaseAndSurroundingBlanks) {
  EXPECT_EQ(Device::parse("CPU"), Device::cpu());
  EXPECT_EQ(Device::parse("  Cpu\t"), Device::cpu());
  EXPECT_EQ(Device::parse("CUDA"), Device::cuda(0));
  EXPECT_EQ(Device::parse("\n Cuda:2  "), Device::cuda(2));
  EXPECT_EQ(Device::parse(" auto "), Device::parse("auto"));
}

TEST(DeviceTest, ParsingDoesNotTouchTheCudaDriver) {
  // Asking for a CUDA ordinal is only a parse: it must work on a machine without any GPU.
  EXPECT_NO_THROW(Device::parse("cuda:7"));
}

TEST(DeviceTest, RejectsInvalidStringsNamingTheAcceptedForms) {
  const std::vector<std::string> bad = {
      "gpu",     "gpu:0",    "gpu:x",   "cuda:-1",  "tpu",
      "",        "   ",      "cuda:",   "cuda:1.5", "cuda1",
      "cpu:0",   "cuda:0x1", "cuda:+1", "cuda::1",  "c pu",
      "cu da:1", "cuda: 1",  "auto2",   "cpus",     "cuda:99999999999999999999"};
  for (const std::string& text : bad) {
    SCOPED_TRACE("device string '" + text + "'");
    EXPECT_TRUE(ThrowsWith<InvalidArgument>(
        [&] { Device::parse(text); }, {"'" + text + "'", "'auto'", "'cpu'", "'cuda'", "'cuda:N'"}));
  }
}

TEST(DeviceTest, ToStringRoundTrips) {
  EXPECT_EQ(Device::cpu().to_string(), "cpu");
  EXPECT_EQ(Device::cuda(0).to_string(), "cuda:0");
  EXPECT_EQ(Device::cuda(3).to_string(), "cuda:3");
  for (const Device& d : {Device::cpu(), Device::cuda(0), Device::cuda(1), Device::cuda(15)}) {
    EXPECT_EQ(Device::parse(d.to_string()), d) << d.to_string();
  }
  EXPECT_EQ(Device::parse("CUDA:5").to_string(), "cuda:5");
}

TEST(DeviceTest, Equality) {
  EXPECT_TRUE(Device::cuda(1) == Device::cuda(1));
  EXPECT_FALSE(Device::cuda(1) == Device::cuda(2));
  EXPECT_FALSE(Device::cpu() == Device::cuda(0));
}

// ---- MatrixView / VectorView --------------------------------------------------------------

TEST(MatrixViewTest, ConstructsWithDefaultAndExplicitStride) {
  std::vector<double> buf(4 * 5, 1.5);
  const MatrixView<double> a(buf.data(), 4, 5);
  EXPECT_EQ(a.data, buf.data());
  EXPECT_EQ(a.rows, 4);
  EXPECT_EQ(a.cols, 5);
  EXPECT_EQ(a.ld, 5);
  EXPECT_EQ(a.space, MemorySpace::kHost);
  EXPECT_TRUE(a.contiguous());
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a.size(), 20);

  const MatrixView<double> b(buf.data(), 4, 3, 5, MemorySpace::kDevice);
  EXPECT_EQ(b.ld, 5);
  EXPECT_EQ(b.space, MemorySpace::kDevice);
  EXPECT_FALSE(b.contiguous());
  EXPECT_EQ(b.row(2), buf.data() + 10);
  EXPECT_EQ(b.size(), 12);
}

TEST(MatrixViewTest, RejectsNegativeShape) {
  std::vector<float> buf(6, 2.0f);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { MatrixView<float>(buf.data(), -1, 3); },
                                          {"non-negative", "(-1, 3)"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { MatrixView<float>(buf.data(), 2, -3); },
                                          {"non-negative", "(2, -3)"}));
}

TEST(MatrixViewTest, RejectsStrideSmallerThanColumns) {
  std::vector<float> buf(12, 2.0f);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { MatrixView<float>(buf.data(), 3, 4, 3); },
                                          {"row stride 3", "4"}));
  EXPECT_NO_THROW(MatrixView<float>(buf.data(), 3, 4, 4));
}

TEST(MatrixViewTest, RejectsNullDataForNonEmptyShape) {
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MatrixView<double>(nullptr, 2, 3); }, {"null"}));
  // An empty shape needs no memory.
  EXPECT_NO_THROW(MatrixView<double>(nullptr, 0, 3));
  EXPECT_NO_THROW(MatrixView<double>(nullptr, 3, 0));
  EXPECT_TRUE(MatrixView<double>(nullptr, 0, 3).empty());
  EXPECT_TRUE(MatrixView<double>(nullptr, 3, 0).empty());
}

TEST(MatrixViewTest, RejectsSpanThatOverflows) {
  // The view is never read: a dangling but non-null pointer is enough for the shape check.
  static double sentinel = 1.0;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [] { MatrixView<double>(&sentinel, int64_t{1} << 62, 4); }, {"size overflow"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { MatrixView<double>(&sentinel, 2, 8, kInt64Max); },
                                          {"size overflow"}));
}

TEST(MatrixViewTest, LargeShapesDoNotWrap) {
  // 2^31 x 4: more elements than an int32 holds; the size must be exact.
  static double sentinel = 1.0;
  const MatrixView<double> v(&sentinel, int64_t{1} << 31, 4);
  EXPECT_EQ(v.size(), int64_t{1} << 33);
  EXPECT_EQ(v.rows, int64_t{1} << 31);
}

TEST(MatrixViewTest, BlockRows) {
  std::vector<int> buf(6 * 4);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<int>(i) + 1;
  const MatrixView<int> m(buf.data(), 5, 3, 4, MemorySpace::kDevice);
  const MatrixView<int> b = m.block_rows(2, 3);
  EXPECT_EQ(b.data, buf.data() + 8);
  EXPECT_EQ(b.rows, 3);
  EXPECT_EQ(b.cols, 3);
  EXPECT_EQ(b.ld, 4);
  EXPECT_EQ(b.space, MemorySpace::kDevice);
  EXPECT_EQ(b.row(1)[2], m.row(3)[2]);
  EXPECT_EQ(m.block_rows(5, 0).rows, 0);
}

TEST(MatrixViewTest, ConvertsToConstButNotBack) {
  std::vector<float> buf(10, 0.5f);
  const MatrixView<float> m(buf.data(), 2, 4, 5, MemorySpace::kDevice);
  const MatrixView<const float> c = m;
  EXPECT_EQ(c.data, buf.data());
  EXPECT_EQ(c.rows, 2);
  EXPECT_EQ(c.cols, 4);
  EXPECT_EQ(c.ld, 5);
  EXPECT_EQ(c.space, MemorySpace::kDevice);
  static_assert(std::is_convertible_v<MatrixView<float>, MatrixView<const float>>);
  static_assert(!std::is_constructible_v<MatrixView<float>, MatrixView<const float>>);
  static_assert(!std::is_constructible_v<MatrixView<const double>, MatrixView<float>>);
}

TEST(VectorViewTest, ConstructsAndViewsAsColumn) {
  std::vector<double> buf(9, 3.0);
  const VectorView<double> v(buf.data(), 3, 3);
  EXPECT_EQ(v.size, 3);
  EXPECT_EQ(v.stride, 3);
  EXPECT_FALSE(v.empty());
  const MatrixView<double> col = v.as_column();
  EXPECT_EQ(col.data, buf.data());
  EXPECT_EQ(col.rows, 3);
  EXPECT_EQ(col.cols, 1);
  EXPECT_EQ(col.ld, 3);
  EXPECT_EQ(col.row(2), buf.data() + 6);

  const VectorView<double> unit(buf.data(), 9);
  EXPECT_EQ(unit.stride, 1);
  EXPECT_TRUE(VectorView<double>().empty());
  EXPECT_TRUE(VectorView<double>(nullptr, 0).empty());
}

TEST(VectorViewTest, RejectsBadShape) {
  std::vector<double> buf(4, 3.0);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { VectorView<double>(buf.data(), -2); },
                                          {"non-negative", "-2"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { VectorView<double>(buf.data(), 4, 0); },
                                          {"stride must be positive"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { VectorView<double>(nullptr, 4); }, {"null"}));
  static double sentinel = 1.0;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [] { VectorView<double>(&sentinel, int64_t{1} << 62, 4); }, {"size overflow"}));
}

TEST(VectorViewTest, ConvertsToConst) {
  std::vector<int64_t> buf(6, 7);
  const VectorView<int64_t> v(buf.data(), 3, 2, MemorySpace::kDevice);
  const VectorView<const int64_t> c = v;
  EXPECT_EQ(c.data, buf.data());
  EXPECT_EQ(c.size, 3);
  EXPECT_EQ(c.stride, 2);
  EXPECT_EQ(c.space, MemorySpace::kDevice);
  static_assert(!std::is_constructible_v<VectorView<int64_t>, VectorView<const int64_t>>);
}

TEST(MemorySpaceTest, ToString) {
  EXPECT_STREQ(to_string(MemorySpace::kHost), "host");
  EXPECT_STREQ(to_string(MemorySpace::kDevice), "device");
}

// ---- Checked size arithmetic --------------------------------------------------------------

TEST(CheckedArithmeticTest, MultipliesPast32Bits) {
  EXPECT_EQ(checked_mul(int64_t{1} << 31, 4), int64_t{1} << 33);
  EXPECT_EQ(checked_mul(3000000000, 3), int64_t{9000000000});
  EXPECT_EQ(checked_mul(0, kInt64Max), 0);
  EXPECT_EQ(checked_mul(kInt64Max / 2, 2), kInt64Max - 1);
  EXPECT_EQ(checked_mul(kInt64Max, 1), kInt64Max);
}

TEST(CheckedArithmeticTest, MultiplicationOverflowThrows) {
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { checked_mul(kInt64Max, 2); }, {"size overflow"}));
  EXPECT_TRUE(
      ThrowsWith<InvalidArgument>([] { checked_mul(kInt64Max / 2 + 1, 2); }, {"size overflow"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { checked_mul(int64_t{1} << 32, int64_t{1} << 31); },
                                          {"size overflow"}));
  EXPECT_THROW(checked_mul(-1, 2), InvalidArgument);
  EXPECT_THROW(checked_mul(2, -1), InvalidArgument);
}

TEST(CheckedArithmeticTest, AdditionNearTheLimit) {
  EXPECT_EQ(checked_add(kInt64Max - 1, 1), kInt64Max);
  EXPECT_EQ(checked_add(int64_t{1} << 31, int64_t{1} << 31), int64_t{1} << 32);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { checked_add(kInt64Max, 1); }, {"size overflow"}));
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([] { checked_add(kInt64Max / 2 + 1, kInt64Max / 2 + 1); },
                                          {"size overflow"}));
  EXPECT_THROW(checked_add(-1, 1), InvalidArgument);
}

// ---- Errors -------------------------------------------------------------------------------

TEST(ErrorTest, HierarchyIsRootedAtError) {
  static_assert(std::is_base_of_v<std::runtime_error, Error>);
  static_assert(std::is_base_of_v<Error, InvalidArgument>);
  static_assert(std::is_base_of_v<Error, NotFitted>);
  static_assert(std::is_base_of_v<Error, OutOfMemory>);
  static_assert(std::is_base_of_v<Error, DeviceError>);
  static_assert(std::is_base_of_v<Error, Unsupported>);
  static_assert(!std::is_base_of_v<InvalidArgument, Unsupported>);
  // Catching by the root type works for a thrown subclass.
  EXPECT_THROW(throw InvalidArgument("bad"), Error);
  EXPECT_THROW(throw Unsupported("nope"), Error);
}

TEST(ErrorTest, ExpectsThrowsInvalidArgumentWithMessageAndLocation) {
  const int value = 42;
  EXPECT_TRUE(ThrowsWith<InvalidArgument>(
      [&] { GPULEARN_EXPECTS(value < 10, "value ", value, " is not below ", 10); },
      {"value 42 is not below 10", "test_core.cpp:"}));
  // The message comes first, the location after it.
  try {
    GPULEARN_EXPECTS(value < 10, "value too large");
    FAIL() << "GPULEARN_EXPECTS did not throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("value too large", 0), 0u) << what;
    EXPECT_LT(what.find("value too large"), what.find("test_core.cpp")) << what;
  }
  EXPECT_NO_THROW(GPULEARN_EXPECTS(value > 10, "never"));
}

TEST(ErrorTest, FailThrowsTheGivenType) {
  EXPECT_TRUE(ThrowsWith<Unsupported>([] { GPULEARN_FAIL(Unsupported, "no ", 3, " here"); },
                                      {"no 3 here", "test_core.cpp:"}));
  EXPECT_THROW(GPULEARN_FAIL(NotFitted, "x"), NotFitted);
  EXPECT_THROW(GPULEARN_FAIL(DeviceError, "x"), DeviceError);
}

// ---- The CPU backend's input checks -------------------------------------------------------

// max_abs and min_value against plain loops, on shapes that leave every possible tail of the
// vectorised loops, on contiguous and strided views, and split across partitions.
template <typename T>
class CpuChecksTest : public ::testing::Test {
 protected:
  struct Shape {
    int64_t rows, cols, ld;
  };
  // The last three span several partitions of the pass (2^18 elements each).
  static constexpr Shape kShapes[] = {
      {1, 1, 1},   {37, 1, 1},  {37, 1, 3},        {5, 17, 17},       {5, 17, 20},   {100, 3, 3},
      {9, 31, 31}, {9, 31, 33}, {10000, 100, 100}, {10000, 100, 104}, {600000, 1, 1}};

  // rows x ld values in [-8, 8); the padding past cols holds NaN, which must never be read.
  static std::vector<T> Draw(const Shape& s, std::mt19937_64& rng) {
    std::uniform_real_distribution<T> u(-8, 8);
    std::vector<T> v(s.rows * s.ld);
    for (int64_t i = 0; i < s.rows; ++i) {
      for (int64_t j = 0; j < s.ld; ++j)
        v[i * s.ld + j] = j < s.cols ? u(rng) : std::numeric_limits<T>::quiet_NaN();
    }
    return v;
  }

  static T PlainMaxAbs(const std::vector<T>& v, const Shape& s) {
    T m = 0;
    for (int64_t i = 0; i < s.rows; ++i) {
      for (int64_t j = 0; j < s.cols; ++j) {
        const T x = v[i * s.ld + j];
        if (!std::isfinite(x)) return std::numeric_limits<T>::infinity();
        m = std::max(m, std::abs(x));
      }
    }
    return m;
  }

  static T PlainMin(const std::vector<T>& v, const Shape& s) {
    T m = std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < s.rows; ++i) {
      for (int64_t j = 0; j < s.cols; ++j) m = std::min(m, v[i * s.ld + j]);
    }
    return m;
  }
};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CpuChecksTest, FloatTypes);

TYPED_TEST(CpuChecksTest, MatchPlainLoopsWithAnyThreadCount) {
  using T = TypeParam;
  std::mt19937_64 rng(201);
  for (const auto& s : TestFixture::kShapes) {
    SCOPED_TRACE(::testing::Message() << s.rows << " x " << s.cols << ", ld " << s.ld);
    const std::vector<T> v = TestFixture::Draw(s, rng);
    const MatrixView<const T> X(v.data(), s.rows, s.cols, s.ld);
    for (int threads : {1, 2, 3}) {
      auto be = detail::make_cpu_backend(threads);
      EXPECT_EQ(be->max_abs(X), TestFixture::PlainMaxAbs(v, s)) << threads << " threads";
      EXPECT_EQ(be->min_value(X), TestFixture::PlainMin(v, s)) << threads << " threads";
    }
  }
}

TYPED_TEST(CpuChecksTest, MaxAbsOfAnEmptyMatrixIsZero) {
  using T = TypeParam;
  auto be = detail::make_cpu_backend(0);
  const T one = 1;
  EXPECT_EQ(be->max_abs(MatrixView<const T>(&one, 0, 1)), T(0));
  EXPECT_EQ(be->max_abs(MatrixView<const T>(&one, 1, 0)), T(0));
}

TYPED_TEST(CpuChecksTest, NonFiniteAnywhereGivesInfinity) {
  using T = TypeParam;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  std::mt19937_64 rng(202);
  auto be = detail::make_cpu_backend(2);
  for (const auto& s : TestFixture::kShapes) {
    if (s.rows * s.cols > 1000) continue;  // every position of the small shapes
    SCOPED_TRACE(::testing::Message() << s.rows << " x " << s.cols << ", ld " << s.ld);
    std::vector<T> v = TestFixture::Draw(s, rng);
    const MatrixView<const T> X(v.data(), s.rows, s.cols, s.ld);
    const T finite = be->max_abs(X);
    ASSERT_TRUE(std::isfinite(finite));
    for (int64_t i = 0; i < s.rows; ++i) {
      for (int64_t j = 0; j < s.cols; ++j) {
        T& x = v[i * s.ld + j];
        const T saved = x;
        for (T bad : {std::numeric_limits<T>::quiet_NaN(), kInf, -kInf}) {
          x = bad;
          EXPECT_EQ(be->max_abs(X), kInf) << bad << " at (" << i << ", " << j << ")";
        }
        x = saved;
      }
    }
    EXPECT_EQ(be->max_abs(X), finite);
  }
}

// ---- parallel_for on the worker pool (src/core/parallel.cpp) ------------------------------

int64_t thread_tid() { return static_cast<int64_t>(::syscall(SYS_gettid)); }

TEST(ParallelForTest, RunsEveryTaskOnceCallAfterCall) {
  for (int call = 0; call < 300; ++call) {
    const int64_t n = 1 + call % 37;
    std::vector<std::atomic<int>> hits(n);
    detail::parallel_for(n, call % 3 == 0 ? 0 : 2, [&](int64_t t) { hits[t]++; });
    for (int64_t t = 0; t < n; ++t) ASSERT_EQ(hits[t].load(), 1) << call << " " << t;
  }
}

TEST(ParallelForTest, KeepsItsHelperThreadsBetweenCalls) {
  if (detail::default_threads() < 2) GTEST_SKIP() << "one hardware thread: no pool";
  // Each call's tasks wait until two threads hold tasks, so the pool's helper takes part.
  auto helpers_of_a_call = [] {
    const int64_t caller = thread_tid();
    std::mutex m;
    std::condition_variable cv;
    std::set<int64_t> tids;
    detail::parallel_for(2, 2, [&](int64_t) {
      std::unique_lock<std::mutex> lock(m);
      tids.insert(thread_tid());
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(5), [&] { return tids.size() == 2; });
    });
    tids.erase(caller);
    return tids;
  };
  const auto first = helpers_of_a_call();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(helpers_of_a_call(), first);  // the same thread, not a new one per call
}

TEST(ParallelForTest, RethrowsATasksExceptionAndStaysUsable) {
  EXPECT_THROW(detail::parallel_for(64, 2,
                                    [](int64_t t) {
                                      if (t == 41) throw std::runtime_error("task 41");
                                    }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  detail::parallel_for(64, 2, [&](int64_t t) { sum += t; });
  EXPECT_EQ(sum.load(), 64 * 63 / 2);
}

TEST(ParallelForTest, NestedCallsRunEveryTask) {
  std::atomic<int64_t> sum{0};
  detail::parallel_for(6, 2, [&](int64_t outer) {
    detail::parallel_for(50, 2, [&](int64_t inner) { sum += outer * 50 + inner; });
  });
  EXPECT_EQ(sum.load(), 300 * 299 / 2);
}

TEST(ParallelForTest, ConcurrentCallersEachGetTheirTasks) {
  // While one caller holds the pool, the others run on threads of their own: every call whole.
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int call = 0; call < 100; ++call) {
        std::atomic<int64_t> sum{0};
        const int64_t n = 16 + c;
        detail::parallel_for(n, 2 + c % 2, [&](int64_t t) { sum += t + c; });
        if (sum.load() != n * (n - 1) / 2 + n * c) ++wrong;
      }
    });
  }
  for (auto& th : callers) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ParallelForTest, MoreThreadsThanThePoolHoldsStillRunsEveryTask) {
  std::vector<std::atomic<int>> hits(40);
  detail::parallel_for(40, detail::default_threads() + 3, [&](int64_t t) { hits[t]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ParallelForTest, WorksInAChildAfterFork) {
  // The parent's pool threads do not exist in a child: it must start its own, not wait on them.
  std::atomic<int64_t> warm{0};
  detail::parallel_for(8, 2, [&](int64_t t) { warm += t; });
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(20);  // a child that hangs dies of SIGALRM and fails the test
    std::atomic<int64_t> sum{0};
    for (int call = 0; call < 20; ++call) {
      detail::parallel_for(32, 2, [&](int64_t t) { sum += t; });
    }
    ::_exit(sum.load() == 20 * (32 * 31 / 2) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "child ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ---- Context ------------------------------------------------------------------------------

TEST(ContextTest, CpuContextWorks) {
  Context ctx{Device::cpu()};
  EXPECT_EQ(ctx.device(), Device::cpu());
  EXPECT_EQ(ctx.n_threads(), 0);
  EXPECT_EQ(ctx.backend().device(), Device::cpu());
  EXPECT_TRUE(ctx.backend().accepts(MemorySpace::kHost));
  EXPECT_FALSE(ctx.backend().accepts(MemorySpace::kDevice));
  EXPECT_NO_THROW(ctx.synchronize());
}

TEST(ContextTest, ThreadCount) {
  Context ctx{Device::cpu()};
  ctx.set_n_threads(3);
  EXPECT_EQ(ctx.n_threads(), 3);
  EXPECT_EQ(ctx.backend().device(), Device::cpu());
  ctx.set_n_threads(0);
  EXPECT_EQ(ctx.n_threads(), 0);
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { ctx.set_n_threads(-1); }, {"n_threads", "-1"}));
  EXPECT_EQ(ctx.n_threads(), 0);
}

TEST(ContextTest, Moves) {
  Context a{Device::cpu()};
  a.set_n_threads(2);
  Context b = std::move(a);
  EXPECT_EQ(b.device(), Device::cpu());
  EXPECT_EQ(b.n_threads(), 2);
  Context c{Device::cpu()};
  c = std::move(b);
  EXPECT_EQ(c.n_threads(), 2);
  EXPECT_EQ(c.backend().device(), Device::cpu());
}

TEST(ContextTest, DefaultDeviceIsAuto) {
  Context ctx;
  EXPECT_EQ(ctx.device(), Device::parse("auto"));
}

TEST(ContextTest, CudaWithoutGpuThrowsUnsupported) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is available on this machine";
  EXPECT_TRUE(ThrowsWith<Unsupported>([] { Context ctx{Device::cuda(0)}; }, {"CUDA"}));
  EXPECT_TRUE(ThrowsWith<Unsupported>([] { Context ctx{Device::parse("cuda:2")}; }, {"CUDA"}));
}

TEST(ContextTest, CudaOrdinalOutOfRangeThrowsInvalidArgument) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  const int count = cuda_device_count();
  EXPECT_TRUE(ThrowsWith<InvalidArgument>([&] { Context ctx{Device::cuda(count)}; },
                                          {std::to_string(count)}));
}

TEST(CudaAvailabilityTest, ReasonAndCountAgreeWithAvailability) {
  const bool available = cuda_available();
  EXPECT_EQ(cuda_device_count() > 0, available);
  EXPECT_EQ(cuda_unavailable_reason().empty(), available) << cuda_unavailable_reason();
  if (!build_info().cuda_built) {
    EXPECT_FALSE(available);
    EXPECT_NE(cuda_unavailable_reason().find("without CUDA"), std::string::npos)
        << cuda_unavailable_reason();
  }
}

TEST(BuildInfoTest, DescribesTheBuild) {
  const BuildInfo info = build_info();
  EXPECT_FALSE(info.version.empty());
  EXPECT_EQ(info.version, GPULEARN_VERSION);
  EXPECT_FALSE(info.compiler.empty());
  EXPECT_EQ(info.cuda_built, GPULEARN_WITH_CUDA != 0);
  if (!info.cuda_built) {
    EXPECT_TRUE(info.cuda_architectures.empty()) << info.cuda_architectures;
    EXPECT_TRUE(info.cuda_version.empty()) << info.cuda_version;
  } else {
    EXPECT_FALSE(info.cuda_architectures.empty());
  }
}

}  // namespace
}  // namespace gpulearn
