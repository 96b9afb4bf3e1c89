// Address spaces (Zircon's VmAspace over its ArchVmAspace; 9front's per-process page tables): the kernel's
// one, or a process's. What every architecture shares lives here: the space's name and kind, its lock, the
// set of CPUs that have it loaded, whether it is still alive, and (with the process issue) its VMAs. The
// translation tables belong to the architecture, behind ArchAspace; arch/x86_64/aspace.h implements it
// with the 4-level tables of mmu.h.
//
// Invariants: a released space is never used again: mapping through it, loading it or releasing it twice
// panics with its name. A space is released only where no other CPU has it loaded. When a change to the
// space returns, no CPU holds a TLB entry it made stale that it could still use (tlb.h): the kernel's space
// asks every online CPU, a process's the CPUs of tlb_cpus().
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/lock.h"
#include "mm/base/percpu.h"
#include "mm/vm/tlb.h"

namespace kmem {

// Access a mapping allows; every mapping can be read.
enum class Prot : uint8_t { kRead = 0, kWrite = 1 << 0, kExec = 1 << 1 };
constexpr Prot operator|(Prot a, Prot b) { return Prot(static_cast<uint8_t>(a) | static_cast<uint8_t>(b)); }
constexpr bool Has(Prot set, Prot p) { return (static_cast<uint8_t>(set) & static_cast<uint8_t>(p)) != 0; }

// How the CPU caches a mapping: normal memory, or device memory nothing may cache.
enum class CacheMode : uint8_t { kCached, kUncached };

enum class VmStatus : uint8_t {
  kOk,
  kMisaligned,        // address or size not whole pages, or size 0
  kOutOfRange,        // not in this space's half of the address space, or not an address the CPU has
  kAlreadyMapped,     // Map over a present mapping; nothing changed
  kNotMapped,         // Query of a hole
  kNoMemory,          // no page for a translation table; nothing changed
  kWrongMemoryType,   // device mapping of RAM, or a cache mode the platform's memory types contradict
};
const char* VmStatusName(VmStatus status);

// One translation as Query reports it.
struct VmMapping {
  PhysAddr pa;         // the physical address of the queried byte
  uint64_t page_size;  // the size of the page that maps it
  Prot prot;
  CacheMode cache;
};

// What a 4 KiB page's translation recorded since it was last harvested: the accessed bit (any use) and
// the dirty bit (a write), which the MMU sets as it uses the translation.
enum class AccessBits : uint8_t { kNone = 0, kAccessed = 1 << 0, kDirty = 1 << 1 };
constexpr AccessBits operator|(AccessBits a, AccessBits b) {
  return AccessBits(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}
constexpr bool Has(AccessBits set, AccessBits b) { return (static_cast<uint8_t>(set) & static_cast<uint8_t>(b)) != 0; }
// Harvest's visitor: the page at va maps pa, and its translation had `found` (now cleared).
using HarvestFn = void (*)(void* ctx, VirtAddr va, PhysAddr pa, AccessBits found);

// One space's translation tables, as an architecture keeps them. A change collects what it made stale in
// `batch` (tlb.h) and flushes nothing; AddressSpace runs the batch on the CPUs that need it, then Reclaim.
class ArchAspace {
 public:
  // [va, va + size) to [pa, pa + size), the largest pages alignment allows; all or nothing (what a failed
  // Map undoes goes into `batch`).
  virtual VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache, TlbBatch& batch) = 0;
  // Whatever is mapped in the range goes; holes are skipped.
  virtual VmStatus Unmap(VirtAddr va, uint64_t size, TlbBatch& batch) = 0;
  virtual VmStatus Protect(VirtAddr va, uint64_t size, Prot prot, TlbBatch& batch) = 0;
  // The 4 KiB page mapped at va now maps `pa` with `prot` (cached); kNotMapped unless a 4 KiB page maps
  // va. Makes and frees no table: it cannot run out of memory.
  virtual VmStatus Remap(VirtAddr va, PhysAddr pa, Prot prot, TlbBatch& batch) = 0;
  virtual VmStatus Query(VirtAddr va, VmMapping* out) = 0;
  // The ageing pass's look at [va, va + size): for every 4 KiB page mapped there, in address order, reads
  // and clears its accessed and dirty bits and calls visit with what they were (larger pages and holes are
  // skipped: user spaces map 4 KiB pages only). Every page whose bits it cleared goes into `batch`.
  //
  // The flush is needed, unlike Linux's ptep_clear_flush_young on x86, which skips it: an x86 CPU sets the
  // accessed bit only when it fills a TLB entry, so a page whose entry stays cached (a process running on
  // one CPU, or a PCID keeping its entries across switches) is used again and again without the bit coming
  // back, and would look cold to every later pass, the hot pages first. Linux can accept that because it
  // looks at the bit rarely, under pressure, and a wrong guess costs one refault; kmem ages every resident
  // page ten times a second, and a pass's shootdown (past TlbBatch::kMaxPages one flush of the space, what
  // a switch costs) is cheap against that. The dirty bit does not need it: what it said is kept in the page
  // (modref) until the page is freed, so a write through a cached entry that does not set it again loses
  // nothing.
  virtual VmStatus Harvest(VirtAddr va, uint64_t size, HarvestFn visit, void* ctx, TlbBatch& batch) = 0;
  // Drops the calling CPU's entries for `batch`: the space is loaded here, or its entries are global.
  // Interrupts are off. Says whether it took the pages one by one or flushed everything.
  virtual TlbDone FlushHere(const TlbBatch& batch) = 0;
  // Gives back the page-table pages `batch` holds, once every CPU has flushed it.
  virtual void Reclaim(TlbBatch& batch) = 0;
  // Makes these tables the calling CPU's; kKeep keeps the TLB's entries for them where the CPU tags them.
  virtual void Activate(TlbReuse reuse) = 0;
  // Whether the TLB keeps the space's entries, tagged, while another space is loaded (x86: a PCID).
  virtual bool Tagged() const = 0;
  // Frees the tables; nothing of the space is used afterwards.
  virtual void Release() = 0;

 protected:
  ~ArchAspace() = default;
};

class AddressSpace {
 public:
  enum class Kind : uint8_t { kKernel, kUser };

  // `arch` holds the space's tables, made for `kind`; the space does not own its storage.
  constexpr AddressSpace(const char* name, Kind kind, ArchAspace& arch) : name_(name), kind_(kind), arch_(arch) {}
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache);
  VmStatus Unmap(VirtAddr va, uint64_t size);
  VmStatus Protect(VirtAddr va, uint64_t size, Prot prot);
  VmStatus Remap(VirtAddr va, PhysAddr pa, Prot prot);
  VmStatus Query(VirtAddr va, VmMapping* out);
  // ArchAspace::Harvest under the space's lock (visit runs under it: it must not sleep or take a lock of
  // the address-space level or above), then the shootdown of what it cleared.
  VmStatus Harvest(VirtAddr va, uint64_t size, HarvestFn visit, void* ctx);

  // Loads the space on the calling CPU, which leaves the space it had loaded (the per-CPU `current`).
  void Activate();
  // Frees the tables. Panics if another CPU has the space loaded; on this CPU, `fallback` (the kernel's
  // space) is loaded first.
  void Release(AddressSpace& fallback);

  // The space the calling CPU has loaded, or nullptr before the first Activate.
  static AddressSpace* Current();
  // The CPUs that have the space loaded, one bit each.
  uint32_t cpus() const { return __atomic_load_n(&cpus_, __ATOMIC_ACQUIRE); }
  // The CPUs whose TLB may hold entries of the space that a later access could use: those that have it
  // loaded and, with tagged entries, those that left it since they last flushed it. A change asks them.
  uint32_t tlb_cpus() const { return __atomic_load_n(&tlb_cpus_, __ATOMIC_ACQUIRE); }
  const char* name() const { return name_; }
  Kind kind() const { return kind_; }

 private:
  void CheckAlive(const char* what) const;
  template <typename Change>
  VmStatus Changed(const char* what, Change change);
  TlbScope Scope() const { return kind_ == Kind::kKernel ? TlbScope::kGlobal : TlbScope::kSpace; }
  // Runs `batch` on the CPUs that may cache what it changed, then gives back its tables. Called with the
  // lock released.
  void Shootdown(TlbBatch& batch);
  static TlbDone FlushHere(void* space, const TlbBatch& batch);

  const char* name_;
  Kind kind_;
  bool released_ = false;
  uint32_t cpus_ = 0;
  uint32_t tlb_cpus_ = 0;
  ArchAspace& arch_;
  // Protects the space's tables and released_ (and, with the process issue, its VMAs). Address-space
  // level: a page-table change may take zone locks (page-table pages come from palloc), never the reverse.
  SpinLock lock_{"address space", LockLevel::kAddressSpace};
};

}  // namespace kmem
