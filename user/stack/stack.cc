// stack [KiB]: deep recursion, printing the stack's depth every 256 KiB, so the stack grows down
// on faults. Without an argument it never stops: the kernel kills it when the stack reaches its limit, and it
// must never print "stack: survived". With one it returns at that depth and prints "stack: N KiB ok".

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"

namespace {

constexpr uint64_t kFrame = 1024;
constexpr uint64_t kReport = 256 << 10;  // bytes of stack between lines

uintptr_t stack_top;  // main's frame: depths are measured from it, by the stack pointer itself
uint64_t reported;    // the last depth printed, in kReport steps

// Each frame writes to its buffer (every page of the stack gets touched) and reads it after the call, so
// neither the buffer nor the recursion can be optimised away; returns the sum to keep it all live. The
// compiler chooses the frame's size, so the depth is what the stack pointer says, not a count of frames.
[[gnu::noinline]] uint64_t Recurse(uint64_t limit) {
  volatile uint8_t frame[kFrame];
  const uint64_t used = stack_top - reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  for (uint64_t i = 0; i < kFrame; i += 64) frame[i] = static_cast<uint8_t>(used);
  if (used / kReport > reported) {
    reported = used / kReport;
    kmem::Print("stack: depth %lu KiB\n", reported * (kReport >> 10));
  }
  const uint64_t below = used >= limit ? 0 : Recurse(limit);
  return below + frame[0];
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t limit = kmem::user::UintArg("stack", argc, argv, 1, UINT64_MAX >> 10, UINT64_MAX >> 10);
  stack_top = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const uint64_t sum = Recurse(limit << 10);
  if (limit == UINT64_MAX >> 10) {
    kmem::Print("stack: survived (sum %lu)\n", sum);
    return 1;
  }
  kmem::Print("stack: %lu KiB ok\n", limit);
  return 0;
}
