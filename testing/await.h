// Host tests of sleeping allocations (pwait, Smalloc): waiting for threads that may sleep for good.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace kmem::testing {

// Waits until `done` reaches `want`, or ends the process: a thread asleep for good (a lost wake-up) could
// not be joined, so a test that waited for it would hang instead of failing.
inline void AwaitOrAbort(const std::atomic<unsigned>& done, unsigned want, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (done.load() < want) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "%s: only %u of %u finished after 120 s: a wake-up was lost\n", what, done.load(), want);
      std::abort();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace kmem::testing
