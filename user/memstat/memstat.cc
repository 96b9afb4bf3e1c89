// memstat: asks the kernel for its own VMAs and prints them like /proc/PID/maps, with resident pages:
// "memstat: 0000000000400000-0000000000401000 r-x text 1 resident", after its totals and the latest ageing
// pass's counts ("memstat: age: pass N, ...").

#include <stdint.h>

#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

constexpr uint64_t kMaxVmas = 32;

const char* KindName(kmem::abi::VmaKindId kind) {
  switch (kind) {
    case kmem::abi::VmaKindId::kText: return "text";
    case kmem::abi::VmaKindId::kData: return "data";
    case kmem::abi::VmaKindId::kBss: return "bss";
    case kmem::abi::VmaKindId::kHeap: return "heap";
    case kmem::abi::VmaKindId::kStack: return "stack";
    case kmem::abi::VmaKindId::kAnon: return "anon";
  }
  return "?";
}

}  // namespace

extern "C" int main(int, char**) {
  kmem::abi::MemStat stat;
  kmem::abi::VmaStat vmas[kMaxVmas];
  const int64_t n = kmem::user::Memstat(&stat, vmas, kMaxVmas);
  if (kmem::user::IsErr(n)) kmem::user::Fail("memstat: FAIL: memstat returned %ld\n", n);
  kmem::Print("memstat: pid %lu, %lu VMAs, %lu resident pages, %lu page-table pages\n", stat.pid, stat.vmas,
              stat.resident_pages, stat.table_pages);
  kmem::user::PrintAge("memstat", stat);
  const uint64_t shown = static_cast<uint64_t>(n) < kMaxVmas ? static_cast<uint64_t>(n) : kMaxVmas;
  for (uint64_t i = 0; i < shown; ++i) {
    const kmem::abi::VmaStat& v = vmas[i];
    kmem::Print("memstat: %016lx-%016lx %c%c%c %s %lu resident\n", v.start, v.end, 'r',
                (v.prot & kmem::abi::kProtWrite) != 0 ? 'w' : '-',
                (v.prot & kmem::abi::kProtExec) != 0 ? 'x' : '-', KindName(v.kind), v.resident_pages);
  }
  if (static_cast<uint64_t>(n) != stat.vmas) {
    kmem::user::Fail("memstat: FAIL: the call returned %ld VMAs, its MemStat says %lu\n", n, stat.vmas);
  }
  return 0;
}
