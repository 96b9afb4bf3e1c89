// oom [children]: grows its heap a MiB at a time and touches every page, forever: it never exits and never
// frees, so once memory runs out it is the process the kernel's OOM policy must kill (it holds the most).
// Prints "oom: FAIL" only if brk refuses, which would end it without the policy. With children (at most 8)
// it forks that many, each doing so, and waits for them: the policy must see a parent asleep in wait as
// waiting too, kill the children one by one, and the parent then prints "oom: N children killed" and exits 0.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::kMiB;
using kmem::user::kPage;

[[noreturn]] void Grow() {
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

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t children = kmem::user::UintArg("oom", argc, argv, 1, 0, 8);
  if (children == 0) Grow();
  int64_t pids[8];
  for (uint64_t i = 0; i < children; ++i) {
    pids[i] = kmem::user::Fork();
    if (pids[i] == 0) Grow();
    if (pids[i] < 0) kmem::user::Fail("oom: FAIL: fork: %ld\n", pids[i]);
  }
  uint64_t killed = 0;
  for (uint64_t i = 0; i < children; ++i) {
    int64_t status = 0;
    if (kmem::user::Wait(static_cast<uint64_t>(pids[i]), &status) != pids[i]) {
      kmem::user::Fail("oom: FAIL: wait for pid %ld\n", pids[i]);
    }
    if (status < 0) ++killed;
  }
  kmem::Print("oom: %lu children killed\n", killed);
  return killed == children ? 0 : 1;
}
