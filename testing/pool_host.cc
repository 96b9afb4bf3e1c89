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
  return {this,
          [](void* c) { static_cast<ThreadSync*>(c)->mu_.lock(); },
          [](void* c) { static_cast<ThreadSync*>(c)->mu_.unlock(); },
          [](void* c) {
            auto* self = static_cast<ThreadSync*>(c);
            ++self->sleeps_;
            self->cv_.wait(self->mu_);
          },
          [](void* c) { static_cast<ThreadSync*>(c)->cv_.notify_all(); }};
}

int ThreadSync::sleeps() {
  std::lock_guard<std::mutex> hold(mu_);
  return sleeps_;
}

}  // namespace kmem::testing
