// stack [KiB]: recursion of about 1 KiB per frame, printing the depth every 256 KiB, so the stack grows down
// on faults. Without an argument it never stops: the kernel kills it when the stack reaches its limit, and it
// must never print "stack: survived". With one it returns at that depth and prints "stack: N KiB ok".

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"

namespace {

constexpr uint64_t kFrame = 1024;
constexpr uint64_t kReport = 256;  // KiB between lines

// Each frame writes its whole buffer (every page of the stack gets touched) and reads it after the call, so
// neither the buffer nor the recursion can be optimised away; returns the sum to keep it all live.
[[gnu::noinline]] uint64_t Recurse(uint64_t depth, uint64_t limit) {
  volatile uint8_t frame[kFrame];
  for (uint64_t i = 0; i < kFrame; i += 64) frame[i] = static_cast<uint8_t>(depth);
  if (depth % kReport == 0) kmem::Print("stack: depth %lu KiB\n", depth);
  const uint64_t below = depth == limit ? 0 : Recurse(depth + 1, limit);
  return below + frame[0];
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t limit = kmem::user::UintArg("stack", argc, argv, 1, UINT64_MAX, UINT64_MAX);
  const uint64_t sum = Recurse(1, limit);
  if (limit == UINT64_MAX) {
    kmem::Print("stack: survived (sum %lu)\n", sum);
    return 1;
  }
  kmem::Print("stack: %lu KiB ok\n", limit);
  return 0;
}
