// pressure [MiB [START_MS [HOLD_MS]]]: sleeps START_MS (default 0), grows the heap by MiB (default 8) and
// writes a pattern to it one page at a time, yielding every 64 pages so that several programs overlap and
// together run memory out (the kernel then makes their faults wait on pwait); reads it all back, holds it
// HOLD_MS (default 0) so that others wait for its pages, and exits. Prints "pressure: N MiB, holding it
// HOLD_MS ms" as it starts and "pressure: N MiB ok" at the end, or
// "pressure: FAIL at 0x..." and exits 1. Staggered starts and holds let programs that together want more
// than memory all finish: a fault waits while pages are held by programs that will exit, and only when
// every program waits (none holds what it wants) is one killed for memory.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::Fail;

using kmem::user::kMiB;
using kmem::user::kPage;
constexpr uint64_t kPagesPerYield = 64;

// Two words a page (its first and its last) name the address: a page mapped twice or at the wrong place, or
// lost and refilled with zeros while the program waited, reads wrong.
uint64_t Pattern(uint64_t addr) { return addr * 0x9e3779b97f4a7c15 ^ 0x7072657373; }

volatile uint64_t& At(uint64_t a) { return *reinterpret_cast<volatile uint64_t*>(a); }

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t mib = kmem::user::UintArg("pressure", argc, argv, 1, 8, 1 << 20);
  const uint64_t start_ms = kmem::user::UintArg("pressure", argc, argv, 2, 0, 600000);
  const uint64_t hold_ms = kmem::user::UintArg("pressure", argc, argv, 3, 0, 600000);
  const uint64_t len = mib * kMiB;
  if (start_ms != 0) kmem::user::Sleep(start_ms);
  // Before memory runs out: the console's code, the strings and the stack that the end needs, so that a
  // program holding its pages never waits for one more to finish.
  kmem::Print("pressure: %lu MiB, holding it %lu ms\n", mib, hold_ms);
  const int64_t start = kmem::user::Brk(0);
  if (kmem::user::IsErr(start)) Fail("pressure: FAIL at 0x0: brk(0) returned %ld\n", start);
  const uint64_t base = static_cast<uint64_t>(start);
  if (kmem::user::Brk(base + len) != static_cast<int64_t>(base + len)) {
    Fail("pressure: FAIL at 0x%lx: brk of %lu MiB refused\n", base, mib);
  }
  for (uint64_t a = base, n = 0; a < base + len; a += kPage, ++n) {
    At(a) = Pattern(a);
    At(a + kPage - 8) = Pattern(a + kPage - 8);
    if (n % kPagesPerYield == kPagesPerYield - 1) kmem::user::Yield();
  }
  for (uint64_t w = base; w < base + len; w += w % kPage == 0 ? kPage - 8 : 8) {
    if (At(w) != Pattern(w)) Fail("pressure: FAIL at 0x%lx: read 0x%lx, wrote 0x%lx\n", w, At(w), Pattern(w));
  }
  if (hold_ms != 0) kmem::user::Sleep(hold_ms);
  kmem::Print("pressure: %lu MiB ok\n", mib);
  return 0;
}
