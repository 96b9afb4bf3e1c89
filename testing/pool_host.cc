#include "testing/pool_host.h"

#include <cstdlib>

#include "mm/base/panic.h"

namespace kmem::testing {

HeapSource::HeapSource(uint64_t capacity) : capacity_(capacity) {}

HeapSource::~HeapSource() {
  for (auto& [span, bytes] : spans_) std::free(span);
}

pool::MemSource HeapSource::source() { return {this, &Take, &Give}; }
pool::MemSource HeapSource::source_without_give() { return {this, &Take, nullptr}; }

void* HeapSource::Take(void* ctx, size_t bytes, size_t align) {
  auto* self = static_cast<HeapSource*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  if (bytes > self->capacity_ - self->out_) return nullptr;
  void* span = std::aligned_alloc(align, bytes);
  if (span == nullptr) return nullptr;
  self->spans_[span] = bytes;
  self->out_ += bytes;
  return span;
}

void HeapSource::Give(void* ctx, void* span, size_t bytes) {
  auto* self = static_cast<HeapSource*>(ctx);
  std::lock_guard<std::mutex> g(self->mu_);
  auto it = self->spans_.find(span);
  KASSERT(it != self->spans_.end() && it->second == bytes, "span %p (%zu bytes) was not handed out", span, bytes);
  self->out_ -= bytes;
  self->spans_.erase(it);
  std::free(span);
}

pool::PoolSync ThreadSync::sync() {
  return {[](void* c, bool (*ready)(void*), void* arg) {
            auto* self = static_cast<ThreadSync*>(c);
            std::unique_lock<std::mutex> hold(self->mu_);
            if (!ready(arg)) {
              ++self->sleeps_;
              self->cv_.wait(hold, [&] { return ready(arg); });
            }
            return pool::PoolWait::kRetry;
          },
          [](void* c) {
            auto* self = static_cast<ThreadSync*>(c);
            std::lock_guard<std::mutex> hold(self->mu_);
            ++self->wakeups_;
            self->cv_.notify_all();
          },
          this};
}

int ThreadSync::sleeps() {
  std::lock_guard<std::mutex> hold(mu_);
  return sleeps_;
}

int ThreadSync::wakeups() {
  std::lock_guard<std::mutex> hold(mu_);
  return wakeups_;
}

}  // namespace kmem::testing
