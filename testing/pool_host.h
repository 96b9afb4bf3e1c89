// The host's side of mm/pool's hooks: a MemSource over the host heap that counts what it handed out and
// can be capped, and a PoolSync over a real mutex and condition variable so Smalloc can block in a test.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

#include "mm/pool/source.h"

namespace kmem::testing {

// Thread-safe: slab caches on several CPUs (threads) take and give slabs at once.
class HeapSource {
 public:
  // Hands out at most `capacity` bytes at a time; frees whatever is still out when destroyed.
  explicit HeapSource(uint64_t capacity = UINT64_MAX);
  ~HeapSource();
  HeapSource(const HeapSource&) = delete;
  HeapSource& operator=(const HeapSource&) = delete;

  pool::MemSource source();
  // Like source() but without `give`: spans never come back, as with xalloc early in boot.
  pool::MemSource source_without_give();
  uint64_t bytes_out() {
    std::lock_guard<std::mutex> g(mu_);
    return out_;
  }
  size_t spans_out() {
    std::lock_guard<std::mutex> g(mu_);
    return spans_.size();
  }
  // Calls f(span, bytes) for each span out, under the source's lock (f must not take or give spans): how a
  // test finds an allocator's own memory that no interface names.
  template <typename F>
  void ForEachSpan(F f) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [span, bytes] : spans_) f(span, bytes);
  }

 private:
  static void* Take(void* ctx, size_t bytes, size_t align);
  static void Give(void* ctx, void* span, size_t bytes);

  std::mutex mu_;
  uint64_t capacity_;
  uint64_t out_ = 0;
  std::map<void*, size_t> spans_;
};

// PoolSync's hooks over a mutex and condition variable: ready is evaluated under the mutex, and wakeup
// takes it before it notifies, as the kernel's wait queue does with its lock.
class ThreadSync {
 public:
  pool::PoolSync sync();
  // How many times a Smalloc went to sleep (found ready false), and how many wakeups the frees made.
  int sleeps();
  int wakeups();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int sleeps_ = 0;
  int wakeups_ = 0;
};

}  // namespace kmem::testing
