// mmapchurn [rounds]: random mmap, munmap (whole or a head or tail) and mprotect (read-only and back, over a
// part) of anonymous memory in up to kSlots mappings, checking contents all along: a new mapping reads zero,
// and a page keeps what was last written to it until it is unmapped. At the end everything is unmapped and
// memstat must count as many VMAs as before the first round (munmap and mprotect merged back what they
// split). Prints "mmapchurn: R rounds ok", or "mmapchurn: FAIL ..." and exits 1.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/random.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::Fail;
using kmem::user::IsErr;

using kmem::user::kPage;
constexpr uint64_t kSlots = 8;
constexpr uint64_t kMaxPages = 16;
constexpr uint64_t kRw = kmem::abi::kProtRead | kmem::abi::kProtWrite;

// A mapping the program holds: pages [addr, addr + pages * kPage), page i last filled from stamp[i].
struct Slot {
  uint64_t addr = 0;
  uint64_t pages = 0;
  uint64_t stamp[kMaxPages] = {};
};

Slot slots[kSlots];
kmem::user::Random rng(0);
uint64_t round;

uint64_t Word(uint64_t stamp, uint64_t i) { return stamp ^ (i * 0x9e3779b97f4a7c15); }

volatile uint64_t* PageWords(uint64_t addr) { return reinterpret_cast<volatile uint64_t*>(addr); }

void FillPage(Slot& s, uint64_t page) {
  s.stamp[page] = rng.Next() | 1;  // never 0, so a page that reads zero cannot pass as filled
  volatile uint64_t* w = PageWords(s.addr + page * kPage);
  for (uint64_t i = 0; i < kPage / 8; ++i) w[i] = Word(s.stamp[page], i);
}

void CheckPage(const Slot& s, uint64_t page) {
  volatile uint64_t* w = PageWords(s.addr + page * kPage);
  for (uint64_t i = 0; i < kPage / 8; ++i) {
    const uint64_t want = s.stamp[page] == 0 ? 0 : Word(s.stamp[page], i);
    if (w[i] != want) {
      Fail("mmapchurn: FAIL round %lu: 0x%lx read 0x%lx, expected 0x%lx\n", round,
           s.addr + page * kPage + i * 8, w[i], want);
    }
  }
}

void CheckSlot(const Slot& s) {
  for (uint64_t p = 0; p < s.pages; ++p) CheckPage(s, p);
}

void Expect(int64_t result, const char* call, uint64_t addr, uint64_t len) {
  if (result != 0)
    Fail("mmapchurn: FAIL round %lu: %s(0x%lx, 0x%lx) returned %ld\n", round, call, addr, len, result);
}

void Map(Slot& s) {
  const uint64_t pages = 1 + rng.Below(kMaxPages);
  const int64_t addr = kmem::user::Mmap(0, pages * kPage, kRw);
  if (IsErr(addr)) Fail("mmapchurn: FAIL round %lu: mmap of %lu pages returned %ld\n", round, pages, addr);
  s.addr = static_cast<uint64_t>(addr);
  s.pages = pages;
  for (uint64_t p = 0; p < pages; ++p) s.stamp[p] = 0;
  CheckSlot(s);  // zero-filled
  for (uint64_t p = 0; p < pages; ++p) {
    if (rng.Below(2) == 0) FillPage(s, p);
  }
}

// Unmaps the whole slot, its head or its tail; what stays must keep its contents.
void Unmap(Slot& s) {
  CheckSlot(s);
  const uint64_t cut = 1 + rng.Below(s.pages);
  if (rng.Below(2) == 0) {
    Expect(kmem::user::Munmap(s.addr + (s.pages - cut) * kPage, cut * kPage), "munmap", s.addr, cut * kPage);
  } else {
    Expect(kmem::user::Munmap(s.addr, cut * kPage), "munmap", s.addr, cut * kPage);
    s.addr += cut * kPage;
    for (uint64_t p = cut; p < s.pages; ++p) s.stamp[p - cut] = s.stamp[p];
  }
  s.pages -= cut;
  CheckSlot(s);
}

// Makes pages [first, first + n) read-only, reads the whole slot, makes them writable again and refills them.
void Protect(Slot& s) {
  const uint64_t first = rng.Below(s.pages);
  const uint64_t n = 1 + rng.Below(s.pages - first);
  const uint64_t addr = s.addr + first * kPage;
  Expect(kmem::user::Mprotect(addr, n * kPage, kmem::abi::kProtRead), "mprotect", addr, n * kPage);
  CheckSlot(s);
  Expect(kmem::user::Mprotect(addr, n * kPage, kRw), "mprotect", addr, n * kPage);
  for (uint64_t p = first; p < first + n; ++p) FillPage(s, p);
  CheckSlot(s);
}

void Churn(Slot& s) {
  if (s.pages == 0) {
    Map(s);
  } else if (rng.Below(3) == 0) {
    Unmap(s);
  } else {
    Protect(s);
  }
}

uint64_t VmaCount() {
  kmem::abi::MemStat stat;
  kmem::abi::VmaStat first;
  const int64_t n = kmem::user::Memstat(&stat, &first, 1);
  if (IsErr(n)) Fail("mmapchurn: FAIL: memstat returned %ld\n", n);
  return static_cast<uint64_t>(n);
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t rounds = kmem::user::UintArg("mmapchurn", argc, argv, 1, 500, 1 << 30);
  const uint64_t seed = static_cast<uint64_t>(kmem::user::Getpid()) * 0x100000001b3;
  rng = kmem::user::Random(seed);
  const uint64_t vmas_before = VmaCount();
  for (round = 0; round < rounds; ++round) Churn(slots[rng.Below(kSlots)]);
  for (Slot& s : slots) {
    if (s.pages == 0) continue;
    CheckSlot(s);
    Expect(kmem::user::Munmap(s.addr, s.pages * kPage), "munmap", s.addr, s.pages * kPage);
  }
  const uint64_t vmas_after = VmaCount();
  if (vmas_after != vmas_before) {
    Fail("mmapchurn: FAIL: %lu VMAs after unmapping everything, %lu before the first round\n", vmas_after,
         vmas_before);
  }
  kmem::Print("mmapchurn: %lu rounds ok (seed 0x%lx)\n", rounds, seed);
  return 0;
}
