#include "mm/conf/conf.h"

#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPagesPerMiB = kMiB / kPageSize;

// The split. The kernel's own data grows with memory (page tables, the image cache, the malloc pools; the
// page array, 1/128 of RAM, comes out of user memory: preallocpages) but stays well below a quarter, so
// the kernel gets a quarter and user processes the rest. A small machine still needs a fixed core (the
// process table, buffers, boot structures) that does not shrink with memory, so the kernel gets at
// least half of RAM up to 32 MiB: 8 MiB of a 16 MiB machine, 32 MiB of anything from 64 to 128 MiB.
// Kernel pages also need a KADDR, so the share is capped by what the kernel window reaches.
constexpr uint64_t kSmallCorePages = 32 * kPagesPerMiB;

uint64_t KernelShare(uint64_t npage) {
  uint64_t core = npage / 2 < kSmallCorePages ? npage / 2 : kSmallCorePages;
  return npage / 4 > core ? npage / 4 : core;
}

// Processes: each costs kernel memory (kernel stack, Proc, page tables, segments: budget 64 KiB), and the
// process table may use an eighth of the kernel share; at least 32 so a tiny machine boots a shell, at
// most 2000 since beyond that the limit is the scheduler, not memory.
constexpr uint64_t kProcPages = 64 * 1024 / kPageSize;
constexpr uint64_t kMinProc = 32;
constexpr uint64_t kMaxProc = 2000;
// Images: processes share program text, about two per program; at least 64.
constexpr uint64_t kMinImage = 64;
// Swap map: room for every process to have 64 pages (256 KiB, a small program's working set) on a swap
// device. Sizes the map only; nothing is swapped until a device is configured.
constexpr uint64_t kSwapPagesPerProc = 64;

struct Tables {
  uint64_t nproc, nimage, nswap;
  uint64_t mainmem_limit, imagmem_limit, secrmem_limit;
};

// The table sizes and pool limits of a split; each only grows with kpages.
Tables SizeTables(uint64_t kpages) {
  Tables t;
  uint64_t nproc = kpages / 8 / kProcPages;
  t.nproc = nproc < kMinProc ? kMinProc : nproc > kMaxProc ? kMaxProc : nproc;
  t.nimage = t.nproc / 2 < kMinImage ? kMinImage : t.nproc / 2;
  t.nswap = t.nproc * kSwapPagesPerProc;
  // Pool limits, as 9front guesses them: the kernel share less its large permanent tables (one page per
  // process; the page descriptors come out of user memory, preallocpages) is what mainmem may grow to;
  // image caches may take 90% of that and secrets a sixteenth. They are ceilings, not reservations: the
  // pools grow on demand and together may not reach them. A kernel share too small for the process
  // table still leaves mainmem a quarter.
  uint64_t tables = t.nproc * kPageSize;
  uint64_t share = kpages * kPageSize;
  uint64_t floor = share / 4;
  t.mainmem_limit = share > tables + floor ? share - tables : floor;
  t.imagmem_limit = t.mainmem_limit - t.mainmem_limit / 10;
  t.secrmem_limit = t.mainmem_limit / 16;
  return t;
}

uint64_t RoundMiB(uint64_t bytes) { return (bytes + kMiB / 2) / kMiB; }

// Ranges trimmed inward to pages; false when nothing is left.
bool PageRange(const RamRange& r, uint64_t* lo, uint64_t* hi) {
  uint64_t end = r.size > UINT64_MAX - r.base.value() ? UINT64_MAX : r.base.value() + r.size;
  if (!AlignUp(r.base.value(), kPageSize, lo)) return false;
  *hi = AlignDown(end, kPageSize);
  return *hi > *lo;
}

}  // namespace

const char* ConfStatusName(ConfStatus status) {
  switch (status) {
    case ConfStatus::kOk:
      return "ok";
    case ConfStatus::kNoRamAboveLowMemory:
      return "no usable RAM above low memory";
    case ConfStatus::kTooManyBanks:
      return "more than 64 disjoint RAM ranges";
  }
  return "unknown";
}

size_t Conf::KernelRanges(RamRange* out, size_t cap) const {
  size_t n = 0;
  for (size_t i = 0; i < nmem; ++i) {
    if (mem[i].kpages() == 0) continue;
    if (n < cap) out[n] = RamRange{mem[i].base, mem[i].kpages() * kPageSize};
    ++n;
  }
  return n;
}

size_t Conf::UserRanges(RamRange* out, size_t cap) const {
  size_t n = 0;
  for (size_t i = 0; i < nmem; ++i) {
    uint64_t k = mem[i].kpages();
    if (k == mem[i].npage) continue;
    if (n < cap) out[n] = RamRange{mem[i].base + k * kPageSize, (mem[i].npage - k) * kPageSize};
    ++n;
  }
  return n;
}

uint64_t ConfMinPages(const ConfNeeds& needs) {
  KASSERT(needs.arrays_per_page < kPageSize, "page arrays of %lu bytes a page leave no page",
          needs.arrays_per_page);
  auto meets = [&](uint64_t npage) {
    uint64_t k = KernelShare(npage), u = npage - k;
    Tables t = SizeTables(k);
    return k * kPageSize >= needs.kernel_bytes &&
           u * (kPageSize - needs.arrays_per_page) >= needs.user_bytes + needs.arrays_fixed &&
           t.mainmem_limit >= needs.mainmem_bytes && t.secrmem_limit >= needs.secrmem_bytes;
  };
  uint64_t lo = 1, hi = 1;
  while (!meets(hi)) hi *= 2;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (meets(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

ConfStatus Confinit(const RamRange* ranges, size_t n, const ConfParams& params, Conf* conf) {
  *conf = Conf{};
  conf->kernel_image_bytes = params.kernel_image_bytes;
  // Banks in address order without sorting the caller's array (which is const, and firmware maps are
  // short): each pass picks the next range by (base, index). O(n^2).
  uint64_t prev_lo = 0;
  size_t prev_i = n;
  for (size_t taken = 0; taken < n; ++taken) {
    size_t best = n;
    uint64_t best_lo = 0, best_hi = 0;
    for (size_t i = 0; i < n; ++i) {
      uint64_t lo, hi;
      if (!PageRange(ranges[i], &lo, &hi)) continue;
      bool after_prev = prev_i == n || lo > prev_lo || (lo == prev_lo && i > prev_i);
      if (after_prev && (best == n || lo < best_lo)) {
        best = i;
        best_lo = lo;
        best_hi = hi;
      }
    }
    if (best == n) break;
    prev_lo = best_lo;
    prev_i = best;
    Confmem* last = conf->nmem > 0 ? &conf->mem[conf->nmem - 1] : nullptr;
    if (last != nullptr && best_lo <= last->base.value() + last->npage * kPageSize) {
      uint64_t end = last->base.value() + last->npage * kPageSize;
      if (best_hi > end) last->npage = (best_hi - last->base.value()) / kPageSize;
      continue;
    }
    if (conf->nmem == Conf::kMaxBanks) return ConfStatus::kTooManyBanks;
    conf->mem[conf->nmem++] = Confmem{PhysAddr(best_lo), (best_hi - best_lo) / kPageSize, VirtAddr(), VirtAddr()};
  }
  if (conf->nmem == 0 || conf->mem[conf->nmem - 1].base + conf->mem[conf->nmem - 1].npage * kPageSize <=
                             params.low_memory_end) {
    return ConfStatus::kNoRamAboveLowMemory;
  }

  for (size_t i = 0; i < conf->nmem; ++i) conf->npage += conf->mem[i].npage;
  // The kernel takes the lowest pages of each bank, lowest banks first, as far as the window reaches.
  uint64_t want = KernelShare(conf->npage);
  const DirectMap& window = params.kernel_window;
  for (size_t i = 0; i < conf->nmem && conf->kpages < want; ++i) {
    Confmem& m = conf->mem[i];
    if (!window.Covers(m.base, kPageSize)) continue;
    uint64_t reach = (window.size() - (m.base - window.phys_base())) / kPageSize;
    uint64_t k = m.npage < reach ? m.npage : reach;
    if (k > want - conf->kpages) k = want - conf->kpages;
    m.kbase = VirtAddr(reinterpret_cast<uintptr_t>(window.Kaddr(m.base)));
    m.klimit = m.kbase + k * kPageSize;
    conf->kpages += k;
  }
  conf->upages = conf->npage - conf->kpages;

  Tables t = SizeTables(conf->kpages);
  conf->nproc = t.nproc;
  conf->nimage = t.nimage;
  conf->nswap = t.nswap;
  conf->mainmem_limit = t.mainmem_limit;
  conf->imagmem_limit = t.imagmem_limit;
  conf->secrmem_limit = t.secrmem_limit;

  uint64_t total = RoundMiB(conf->npage * kPageSize + conf->kernel_image_bytes);
  uint64_t user = RoundMiB(conf->upages * kPageSize);
  // 9front's line, with its swap figure told for what it is: the swap map's size, and no device behind it.
  Print("%luM memory: %luM kernel data, %luM user, %luM swap map, no swap device\n", total, total - user, user,
        conf->nswap * kPageSize / kMiB);
  return ConfStatus::kOk;
}

}  // namespace kmem
