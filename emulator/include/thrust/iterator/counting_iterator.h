// Stand-in for Thrust's thrust/iterator/counting_iterator.h under the gpulearn CUDA emulator:
// thrust::counting_iterator, a random-access iterator over a sequence of counting values held
// by value (dereferencing it reads no memory), so it may be passed to device algorithms such as
// cub::DeviceSelect::If. The System and Traversal parameters are accepted and ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

namespace thrust {

/// Thrust's placeholder for a defaulted template parameter.
struct use_default {};

template <typename Incrementable, typename System = use_default, typename Traversal = use_default,
          typename Difference = use_default>
class counting_iterator {
 public:
  using value_type = Incrementable;
  using reference = Incrementable;
  using pointer = void;
  using difference_type =
      std::conditional_t<std::is_same_v<Difference, use_default>, std::ptrdiff_t, Difference>;
  using iterator_category = std::random_access_iterator_tag;

  counting_iterator() = default;
  explicit counting_iterator(Incrementable x) : value_(x) {}

  Incrementable base() const { return value_; }

  reference operator*() const { return value_; }
  reference operator[](difference_type n) const { return advanced(n); }

  counting_iterator& operator++() {
    ++value_;
    return *this;
  }
  counting_iterator operator++(int) {
    counting_iterator old = *this;
    ++value_;
    return old;
  }
  counting_iterator& operator--() {
    --value_;
    return *this;
  }
  counting_iterator operator--(int) {
    counting_iterator old = *this;
    --value_;
    return old;
  }
  counting_iterator& operator+=(difference_type n) {
    value_ = advanced(n);
    return *this;
  }
  counting_iterator& operator-=(difference_type n) {
    value_ = advanced(-n);
    return *this;
  }
  friend counting_iterator operator+(counting_iterator it, difference_type n) { return it += n; }
  friend counting_iterator operator+(difference_type n, counting_iterator it) { return it += n; }
  friend counting_iterator operator-(counting_iterator it, difference_type n) { return it -= n; }
  friend difference_type operator-(const counting_iterator& a, const counting_iterator& b) {
    return static_cast<difference_type>(a.value_) - static_cast<difference_type>(b.value_);
  }
  friend bool operator==(const counting_iterator& a, const counting_iterator& b) {
    return a.value_ == b.value_;
  }
  friend bool operator!=(const counting_iterator& a, const counting_iterator& b) {
    return !(a == b);
  }
  friend bool operator<(const counting_iterator& a, const counting_iterator& b) {
    return b - a > 0;
  }
  friend bool operator>(const counting_iterator& a, const counting_iterator& b) { return b < a; }
  friend bool operator<=(const counting_iterator& a, const counting_iterator& b) {
    return !(b < a);
  }
  friend bool operator>=(const counting_iterator& a, const counting_iterator& b) {
    return !(a < b);
  }

 private:
  Incrementable advanced(difference_type n) const {
    return static_cast<Incrementable>(value_ + static_cast<Incrementable>(n));
  }
  Incrementable value_{};
};

template <typename Incrementable>
counting_iterator<Incrementable> make_counting_iterator(Incrementable x) {
  return counting_iterator<Incrementable>(x);
}

}  // namespace thrust
