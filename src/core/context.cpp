#include "gpulearn/core/context.hpp"

#include "backend.hpp"
#include "parallel.hpp"
#include "gpulearn/core/error.hpp"

namespace gpulearn {

Context::Context(Device device) : device_(device) {
  // Creating the CUDA backend here, not lazily, makes a missing GPU fail at the point the user
  // chose the device, with the reason.
  if (device_.is_cuda()) backend_ = detail::make_cuda_backend(device_.index);
}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

void Context::set_n_threads(int n) {
  GPULEARN_EXPECTS(n >= 0, "n_threads must be >= 0 (0 = the default count), got ", n);
  n_threads_ = n;
  if (!device_.is_cuda()) backend_.reset();  // re-created with the new count on next use
}

int Context::threads() const { return detail::resolve_threads(n_threads_); }

void Context::synchronize() {
  if (backend_) backend_->synchronize();
}

void Context::trim_scratch() {
  if (backend_) backend_->trim_scratch();
}

detail::Backend& Context::backend() {
  if (!backend_) backend_ = detail::make_cpu_backend(n_threads_);
  return *backend_;
}

}  // namespace gpulearn
