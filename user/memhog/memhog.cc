// memhog [MiB]: grows the heap with brk by MiB (default 16), writes a pattern to every page and reads it all
// back; then does the same over an mmap of a quarter of that (at least a page), which must read zero first.
// Prints "memhog: N MiB ok", or "memhog: FAIL at 0x..." and exits 1.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::Fail;

using kmem::user::kMiB;
using kmem::user::kPage;

// A word every 64 bytes (a cache line) rather than every word: each page is written and checked in full
// width without making TCG spend seconds per MiB. The value names the address, so a page mapped twice
// or at the wrong place reads wrong.
constexpr uint64_t kStride = 64;

uint64_t Pattern(uint64_t addr) { return addr * 0x9e3779b97f4a7c15 ^ 0x6d656d686f67; }

void Fill(uint64_t start, uint64_t len) {
  for (uint64_t a = start; a < start + len; a += kStride)
    *reinterpret_cast<volatile uint64_t*>(a) = Pattern(a);
}

void Check(uint64_t start, uint64_t len, const char* what) {
  for (uint64_t a = start; a < start + len; a += kStride) {
    const uint64_t got = *reinterpret_cast<volatile uint64_t*>(a);
    if (got != Pattern(a))
      Fail("memhog: FAIL at 0x%lx (%s): read 0x%lx, wrote 0x%lx\n", a, what, got, Pattern(a));
  }
}

void CheckZero(uint64_t start, uint64_t len, const char* what) {
  for (uint64_t a = start; a < start + len; a += sizeof(uint64_t)) {
    const uint64_t got = *reinterpret_cast<volatile uint64_t*>(a);
    if (got != 0) Fail("memhog: FAIL at 0x%lx (%s): read 0x%lx from a new page, not zero\n", a, what, got);
  }
}

void HogHeap(uint64_t len) {
  const int64_t start = kmem::user::Brk(0);
  if (kmem::user::IsErr(start)) Fail("memhog: FAIL at 0x0 (heap): brk(0) returned %ld\n", start);
  const uint64_t base = static_cast<uint64_t>(start);
  const int64_t end = kmem::user::Brk(base + len);
  if (end != static_cast<int64_t>(base + len)) {
    Fail("memhog: FAIL at 0x%lx (heap): brk(0x%lx) returned %ld\n", base, base + len, end);
  }
  Fill(base, len);
  Check(base, len, "heap");
  const int64_t back = kmem::user::Brk(base);
  if (back != start) Fail("memhog: FAIL at 0x%lx (heap): shrinking brk returned %ld\n", base, back);
}

void HogMmap(uint64_t len) {
  const int64_t addr = kmem::user::Mmap(0, len, kmem::abi::kProtRead | kmem::abi::kProtWrite);
  if (kmem::user::IsErr(addr))
    Fail("memhog: FAIL at 0x0 (mmap): mmap of 0x%lx bytes returned %ld\n", len, addr);
  const uint64_t base = static_cast<uint64_t>(addr);
  CheckZero(base, len, "mmap");
  Fill(base, len);
  Check(base, len, "mmap");
  const int64_t unmapped = kmem::user::Munmap(base, len);
  if (unmapped != 0) Fail("memhog: FAIL at 0x%lx (mmap): munmap returned %ld\n", base, unmapped);
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t mib = kmem::user::UintArg("memhog", argc, argv, 1, 16, 1 << 20);
  HogHeap(mib * kMiB);
  const uint64_t quarter = mib * kMiB / 4;
  HogMmap(quarter < kPage ? kPage : quarter);
  kmem::Print("memhog: %lu MiB ok\n", mib);
  return 0;
}
