// oom: grows its heap a MiB at a time and touches every page, forever: it never exits and never frees, so
// once memory runs out it is the process the kernel's OOM policy must kill (it holds the most). Prints
// "oom: FAIL" only if brk refuses, which would end it without the policy.

#include <stdint.h>

#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = 1 << 20;

}  // namespace

extern "C" int main(int, char**) {
  uint64_t end = static_cast<uint64_t>(kmem::user::Brk(0));
  for (;;) {
    if (kmem::user::Brk(end + kMiB) != static_cast<int64_t>(end + kMiB)) {
      kmem::user::Fail("oom: FAIL: brk past 0x%lx refused\n", end);
    }
    for (uint64_t a = end; a < end + kMiB; a += kPage) *reinterpret_cast<volatile uint64_t*>(a) = a;
    end += kMiB;
    kmem::user::Yield();
  }
}
