// sharedtext [N]: one of N copies of this program running at once (the boot's kmem.sharedtext starts 32).
// It reads every page of its text (code, and constants: a table of four pages it checks), waits until N
// processes have used its text at once (memstat's text_most_users: reached once it stays, so copies that
// start late or end early cannot miss it), then checks through memstat that its text is one copy: the
// image cache holds every one of its text pages (text_shared_pages == text_pages), which are all resident
// here; with each process filling its own copy the cache would hold none. Prints "sharedtext: pid P: N
// processes share its T text pages", or "sharedtext: FAIL ..." and exits 1.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::Fail;

constexpr uint64_t kMaxVmas = 16;
using kmem::user::kPage;
constexpr uint64_t kWaitMs = 10, kMaxWaits = 6000;  // a minute for every copy to start under TCG

constexpr uint64_t Word(uint64_t i) { return (i + 1) * 0x9e3779b97f4a7c15; }

// Constants in rodata (a text VMA, r--): four pages of them.
struct Table {
  constexpr Table() : words() {
    for (uint64_t i = 0; i < kWords; ++i) words[i] = Word(i);
  }
  static constexpr uint64_t kWords = 4 * kPage / sizeof(uint64_t);
  uint64_t words[kWords];
};
const Table table;

kmem::abi::MemStat Stat(kmem::abi::VmaStat* vmas, uint64_t* n) {
  kmem::abi::MemStat stat;
  const int64_t r = kmem::user::Memstat(&stat, vmas, kMaxVmas);
  if (kmem::user::IsErr(r)) Fail("sharedtext: FAIL: memstat returned %ld\n", r);
  *n = static_cast<uint64_t>(r) < kMaxVmas ? static_cast<uint64_t>(r) : kMaxVmas;
  return stat;
}

// Reads a byte of every page of every text VMA; returns their resident pages.
uint64_t TouchText(const kmem::abi::VmaStat* vmas, uint64_t n, bool touch) {
  uint64_t resident = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (vmas[i].kind != kmem::abi::VmaKindId::kText) continue;
    for (uint64_t va = vmas[i].start; touch && va < vmas[i].end; va += kPage) {
      (void)*reinterpret_cast<const volatile uint8_t*>(va);
    }
    resident += vmas[i].resident_pages;
  }
  return resident;
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t want = kmem::user::UintArg("sharedtext", argc, argv, 1, 32, 1024);
  const volatile uint64_t* words = table.words;
  for (uint64_t i = 0; i < Table::kWords; ++i) {
    if (words[i] != Word(i)) Fail("sharedtext: FAIL: constant %lu is 0x%lx, not 0x%lx\n", i, words[i], Word(i));
  }
  kmem::abi::VmaStat vmas[kMaxVmas];
  uint64_t n;
  kmem::abi::MemStat stat = Stat(vmas, &n);
  TouchText(vmas, n, true);
  for (uint64_t waits = 0; (stat = Stat(vmas, &n)).text_most_users < want; ++waits) {
    if (waits == kMaxWaits) {
      Fail("sharedtext: FAIL: pid %lu: at most %lu processes used its text at once, not %lu\n", stat.pid,
           stat.text_most_users, want);
    }
    kmem::user::Sleep(kWaitMs);
  }
  const uint64_t resident = TouchText(vmas, n, false);
  if (stat.text_pages == 0 || stat.text_shared_pages != stat.text_pages || resident != stat.text_pages) {
    Fail("sharedtext: FAIL: pid %lu: %lu text pages, %lu resident, %lu of them in the image cache (%lu images "
         "hold %lu pages): not one shared copy\n",
         stat.pid, stat.text_pages, resident, stat.text_shared_pages, stat.images, stat.image_pages);
  }
  kmem::Print("sharedtext: pid %lu: %lu processes share its %lu text pages\n", stat.pid, stat.text_most_users,
              stat.text_pages);
  return 0;
}
