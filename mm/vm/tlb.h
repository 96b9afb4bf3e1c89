// TLB shootdown (Linux's mmu_gather and flush_tlb_mm_range, Zircon's TlbInvalidate): the pages one change to
// an address space made stale, collected while the space's lock is held, then flushed on every CPU that may
// cache them by a cross-call made once the lock is released (a CPU spinning on that lock with interrupts
// off could not answer the call). Page-table pages the change unlinked ride in the batch and go back only
// after every CPU has flushed: until then a CPU's paging-structure caches may still walk through them.
//
// The portable part is here: the batch, the threshold past which one full flush replaces single pages, who
// is asked (the caller says), the switch that turns remote flushes off, and the counts. What a CPU executes
// for a batch (invlpg, a CR3 reload, a global flush) is the architecture's, behind ArchAspace::FlushHere.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/percpu.h"

namespace kmem {

// Which entries a batch's translations have: the kernel's, global on every CPU, or one space's.
enum class TlbScope : uint8_t { kSpace, kGlobal };

// How a CPU loads a space: dropping whatever its TLB holds for it, or keeping it because every change since
// the CPU last held it was flushed there (possible only with tagged entries: x86's PCIDs).
enum class TlbReuse : uint8_t { kFlush, kKeep };

class TlbBatch {
 public:
  // Past this many pages one full flush is cheaper than single-page invalidations (an invlpg costs about
  // as much as refilling a few entries; Linux's ceiling is 33).
  static constexpr unsigned kMaxPages = 16;

  explicit TlbBatch(TlbScope scope) : scope_(scope) {}
  TlbBatch(const TlbBatch&) = delete;
  TlbBatch& operator=(const TlbBatch&) = delete;

  // The translation of the page at `va` changed.
  void AddPage(VirtAddr va) {
    if (full_) return;
    if (count_ == kMaxPages) {
      full_ = true;
      return;
    }
    pages_[count_++] = va.value();
  }
  // A page-table page the change unlinked; `first_word` is the page's first entry, which becomes the chain's
  // link. That entry stays not present (the link is a page address, bit 0 clear), so a CPU whose caches
  // still reach the page finds nothing through it.
  void AddTable(PhysAddr page, uint64_t* first_word) {
    *first_word = tables_;
    tables_ = page.value();
    ++table_count_;
  }
  // The first chained table and how many there are; after Reclaim the chain is empty again.
  PhysAddr tables() const { return PhysAddr(tables_); }
  unsigned table_count() const { return table_count_; }
  void ClearTables() {
    tables_ = 0;
    table_count_ = 0;
  }

  TlbScope scope() const { return scope_; }
  bool full() const { return full_; }
  unsigned count() const { return count_; }
  VirtAddr page(unsigned i) const { return VirtAddr(pages_[i]); }
  bool empty() const { return count_ == 0 && !full_; }

 private:
  TlbScope scope_;
  bool full_ = false;
  unsigned count_ = 0;
  unsigned table_count_ = 0;
  uint64_t tables_ = 0;
  // Raw words, not VirtAddr: those zero-initialise, and a batch is set up on every unmap and protect, where
  // clearing 128 bytes would cost more than a single-page change itself. Only the first count_ are read.
  uint64_t pages_[kMaxPages];
};

// What a CPU did with a batch sent to it: invalidated its pages one by one, flushed its whole TLB (past the
// threshold, or where the architecture needs to for what the batch frees), or found the space not loaded
// and left a note that its next load must flush (tagged entries of a space not loaded are never used until
// then).
enum class TlbDone : uint8_t { kPages, kFull, kDeferred };
// Runs on each CPU asked, with interrupts off.
using TlbFlushFn = TlbDone (*)(void* ctx, const TlbBatch& batch);

// Runs `flush` for `batch` on every CPU of `cpus` (the caller's part here) and returns once all have done
// it. The caller has interrupts on and holds no lock. O(CPUs asked); an empty batch costs nothing.
void TlbShootdown(CpuSet cpus, const TlbBatch& batch, TlbFlushFn flush, void* ctx);

// kOff flushes only the calling CPU, as kmem did before SMP: the switch the shootdown tests use to prove that
// they see stale entries without it (host tests; `kmem.noshootdown` in the kernel). Never for real work.
enum class Shootdown : uint8_t { kOn, kOff };
void SetShootdown(Shootdown mode);
Shootdown ShootdownMode();

// Counts over every CPU since boot (or the last TlbStatsReset).
struct TlbStats {
  uint64_t shootdowns;    // batches that asked another CPU
  uint64_t remote_cpus;   // CPUs asked by them, the callers' own not counted
  uint64_t pages;         // single-page invalidations, every CPU's
  uint64_t full_flushes;  // whole-TLB flushes, every CPU's
  uint64_t deferred;      // batches a CPU left for its next load of the space
};
TlbStats TlbStatsTotal();
void TlbStatsReset();
// One "tlb: " line with the counts.
void TlbStatsPrint();

}  // namespace kmem
