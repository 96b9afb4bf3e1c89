// yield [times]: gives up its CPU that many times (default 1000). Two of them on one CPU switch to each
// other at every yield: the kernel's user benchmark times the context switch with it.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

extern "C" int main(int argc, char** argv) {
  const uint64_t times = kmem::user::UintArg("yield", argc, argv, 1, 1000, uint64_t{1} << 32);
  for (uint64_t i = 0; i < times; ++i) {
    if (kmem::user::IsErr(kmem::user::Yield())) kmem::user::Fail("yield: yield %lu failed\n", i);
  }
  kmem::Print("yield: %lu yields\n", times);
  return 0;
}
