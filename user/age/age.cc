// age [HOT [COLD [WAIT_MS]]]: the kernel's page ageing seen from a program. Maps HOT pages (default 16) that
// it keeps reading and COLD pages (default 64) that it writes once, then reads the hot ones every 2 ms until
// kPasses ageing passes have run since the write; from memstat it checks that the cold pages aged (at least
// COLD pages of refage 4 or more) while the hot ones did not (at least HOT of refage 0 or 1), and that the
// cold ones count as modified. The check uses the latest pass, and tries kRetries passes more before it
// gives up on the hot ones (a pass may come while the program waits for a CPU). Prints its memstat line
// "age: pass N, ..." and "age: ok: ...", or "age: FAIL: ..." and exits 1, also when no pass came in
// WAIT_MS (default 10000) ms. The other pages of the program (its text, stack) add to the counts, which
// is why the checks are "at least": without ageing no page is old, and without harvesting none is young.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

using kmem::user::Fail;

using kmem::user::kPage;
constexpr uint64_t kPasses = 10;  // refage 9 or more for the cold pages: well into the 8+ bucket
constexpr uint64_t kRetries = 5;
constexpr uint64_t kNapMs = 2;

uint64_t Map(uint64_t pages) {
  const int64_t at = kmem::user::Mmap(0, pages * kPage, kmem::abi::kProtRead | kmem::abi::kProtWrite);
  if (kmem::user::IsErr(at)) Fail("age: FAIL: mmap of %lu pages returned %ld\n", pages, at);
  return static_cast<uint64_t>(at);
}

// Reads a word of every hot page.
uint64_t Touch(uint64_t base, uint64_t pages) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < pages; ++i) sum += *reinterpret_cast<volatile uint64_t*>(base + i * kPage);
  return sum;
}

kmem::abi::MemStat Stat() {
  kmem::abi::MemStat s;
  const int64_t r = kmem::user::Memstat(&s, nullptr, 0);
  if (kmem::user::IsErr(r)) Fail("age: FAIL: memstat returned %ld\n", r);
  return s;
}

// Reads the hot pages until pass `until` has run; the latest memstat. Fails once wait_ms go by in naps
// without a new pass.
kmem::abi::MemStat TouchUntil(uint64_t hot, uint64_t pages, uint64_t until, uint64_t wait_ms) {
  kmem::abi::MemStat s = Stat();
  for (uint64_t waited = 0, last = s.age_pass; s.age_pass < until; s = Stat()) {
    Touch(hot, pages);
    kmem::user::Sleep(kNapMs);
    waited = s.age_pass == last ? waited + kNapMs : 0;
    last = s.age_pass;
    if (waited > wait_ms) Fail("age: FAIL: no ageing pass in %lu ms (the latest is pass %lu)\n", wait_ms, s.age_pass);
  }
  return s;
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t hot_pages = kmem::user::UintArg("age", argc, argv, 1, 16, 4096);
  const uint64_t cold_pages = kmem::user::UintArg("age", argc, argv, 2, 64, 4096);
  const uint64_t wait_ms = kmem::user::UintArg("age", argc, argv, 3, 10000, 600000);
  const uint64_t hot = Map(hot_pages), cold = Map(cold_pages);
  for (uint64_t i = 0; i < cold_pages; ++i) *reinterpret_cast<volatile uint64_t*>(cold + i * kPage) = i + 1;
  Touch(hot, hot_pages);
  const uint64_t written = Stat().age_pass;
  kmem::abi::MemStat s = TouchUntil(hot, hot_pages, written + kPasses, wait_ms);
  const auto young = [](const kmem::abi::MemStat& m) { return m.ages[0] + m.ages[1]; };
  for (uint64_t retry = 0; retry < kRetries && young(s) < hot_pages; ++retry) {
    s = TouchUntil(hot, hot_pages, s.age_pass + 1, wait_ms);
  }
  kmem::user::PrintAge("age", s);
  const uint64_t old = s.ages[3] + s.ages[4];
  if (old < cold_pages) {
    Fail("age: FAIL: %lu pages of refage 4 or more, fewer than the %lu cold ones\n", old, cold_pages);
  }
  if (young(s) < hot_pages) {
    Fail("age: FAIL: %lu pages of refage 0 or 1, fewer than the %lu hot ones\n", young(s), hot_pages);
  }
  if (s.modified_pages < cold_pages) {
    Fail("age: FAIL: %lu modified pages, fewer than the %lu written\n", s.modified_pages, cold_pages);
  }
  kmem::Print("age: ok: %lu cold pages aged, %lu hot pages stayed young, over %lu passes\n", cold_pages, hot_pages,
              s.age_pass - written);
  return 0;
}
