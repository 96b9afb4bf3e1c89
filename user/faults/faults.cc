// faults [pages]: one anonymous mapping of that many pages (default 1024; none for 0), each page written
// once, so each write is one demand-zero fault; then unmapped. The kernel's user benchmark (kmem.userbench)
// times it for faults per second.

#include <stdint.h>

#include "kernel/abi/syscall.h"
#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

extern "C" int main(int argc, char** argv) {
  using kmem::user::kPage;
  const uint64_t pages = kmem::user::UintArg("faults", argc, argv, 1, 1024, uint64_t{1} << 20);
  if (pages == 0) {  // the benchmark's baseline: the program's own cost without a fault of its mapping
    kmem::Print("faults: 0 pages touched\n");
    return 0;
  }
  const int64_t at = kmem::user::Mmap(0, pages * kPage, kmem::abi::kProtRead | kmem::abi::kProtWrite);
  if (kmem::user::IsErr(at)) kmem::user::Fail("faults: mmap of %lu pages: error %ld\n", pages, at);
  auto* bytes = reinterpret_cast<volatile uint8_t*>(at);
  for (uint64_t i = 0; i < pages; ++i) bytes[i * kPage] = 1;
  if (kmem::user::IsErr(kmem::user::Munmap(static_cast<uint64_t>(at), pages * kPage))) {
    kmem::user::Fail("faults: munmap failed\n");
  }
  kmem::Print("faults: %lu pages touched\n", pages);
  return 0;
}
