// The x86_64 MMU (9front pc64's mmu.c with Zircon's testability): 4-level page tables reached through a
// DirectMap, built from pages of an injected allocator, with TLB maintenance through injected CPU
// operations. The same code runs in the kernel (arch/x86_64/kernel_cpu.h) and on the host over simulated
// physical memory with a fake CPU that records every flush (testing/fake_cpu.h).
//
// Invariants: below the top level there is no empty page-table page (an unmap frees a table the moment its
// last entry goes), and every entry that points at a table carries that table's count of present entries
// in its ignored bits (layout.h). The kernel half of every top-level table points at the same third-level
// tables, made once by Init, so kernel mappings are shared without copying; the kernel half changes only
// through the kernel's own table, whose top-level entries keep the shared tables' counts. Every live
// top-level table carries a marker word (mmu.cc), so an operation on a released space panics instead of
// writing into a page that is free or belongs to someone else.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/mtrr.h"
#include "mm/base/addr.h"
#include "mm/base/direct_map.h"
#include "mm/base/lock.h"
#include "mm/base/percpu.h"
#include "mm/base/ram_range.h"
#include "mm/vm/kva.h"
#include "mm/vm/tlb.h"

namespace kmem::x86 {

// Where page-table pages come from and go back to: the page allocator in the kernel (a simple source
// until it is wired in), a counting fake on the host. Pages need not be zeroed; the MMU zeroes them.
class PtPageAllocator {
 public:
  // Returns false when no page is left.
  virtual bool Alloc(PhysAddr* page) = 0;
  virtual void Free(PhysAddr page) = 0;

 protected:
  ~PtPageAllocator() = default;
};

// The privileged instructions the MMU needs, one call each.
class CpuOps {
 public:
  // Loads CR3 with `top` and `pcid` (0 without CR4.PCIDE): switches address space and drops the non-global
  // entries tagged `pcid`, unless kKeep sets the no-flush bit (only with CR4.PCIDE).
  virtual void LoadCr3(PhysAddr top, uint16_t pcid, TlbReuse reuse) = 0;
  // Drops the TLB entries for `va` (any page size; the current PCID's and global ones) and every
  // paging-structure-cache entry of the current PCID.
  virtual void Invlpg(VirtAddr va) = 0;
  // Drops every TLB entry, global ones included (toggles CR4.PGE).
  virtual void FlushGlobal() = 0;
  virtual unsigned CpuId() = 0;

 protected:
  ~CpuOps() = default;
};

// Mapping attributes. Every mapping is readable; kExec absent means NX. The memory type is write-back
// unless kUncached (PAT UC: PCD and PWT) or kWriteCombining (PAT WC: PWT alone, with the kernel's PAT,
// mtrr.h) says otherwise; kUncached wins when both are given.
enum class Attr : uint32_t {
  kRead = 0,
  kWrite = 1 << 0,
  kExec = 1 << 1,
  kUser = 1 << 2,
  kGlobal = 1 << 3,
  kUncached = 1 << 4,
  kWriteCombining = 1 << 5,
};
constexpr Attr operator|(Attr a, Attr b) { return Attr(static_cast<uint32_t>(a) | static_cast<uint32_t>(b)); }
constexpr bool Has(Attr set, Attr a) { return (static_cast<uint32_t>(set) & static_cast<uint32_t>(a)) != 0; }

enum class MmuStatus {
  kOk,
  kMisaligned,     // va, pa or size not a multiple of 4 KiB, or size 0
  kNonCanonical,   // part of the range lies in the hole between the halves or wraps past 2^64
  kWrongHalf,      // the range straddles the halves, User/Global attributes in the wrong half, a
                   // kernel range outside the layout's shared slots, or a kernel range through a table
                   // other than the kernel's
  kAlreadyMapped,  // Pmap over a present mapping; nothing was changed
  kNotMapped,      // Vunmap of something Vmap did not return; Translate of a hole
  kNoMemory,       // the page-table page allocator is empty; nothing was changed
  kNoSpace,        // the VMAP window is full, or every KMAP slot is in use
  kBadPhysAddr,    // the physical range ends past the CPU's physical limit (Init) or wraps past 2^64
  kIsRam,          // Vmap of RAM: the direct map has it write-back, and a second type would alias it
  kMixedMemoryType,     // Vmap of a range the MTRRs give more than one type (or one they do not trust)
  kMemoryTypeConflict,  // Vmap with a cache type the range's MTRR type overrides (WB where they say UC)
};
const char* MmuStatusName(MmuStatus status);

enum class Create { kNo, kYes };

// The memory type Vmap gives a mapping: uncached for device registers, write-combining for frame buffers,
// write-back for firmware tables the MTRRs make write-back.
enum class Cache { kUncached, kWriteCombining, kWriteBack };

struct Translation {
  MmuStatus status;  // kOk or kNotMapped
  PhysAddr pa;
  PageSize size;
  Attr attrs;
};

// The entries a walk passed through: entry[l] is va's entry at level l, for l from the top down to
// `level`, where the walk ended (at the level asked for, at a large leaf above it, or at a hole).
struct WalkPath {
  uint64_t* entry[kLevels];
  unsigned level;
};

// Visits each leaf mapping of a table in address order; `level` says its page size.
using LeafVisitor = void (*)(void* ctx, VirtAddr va, unsigned level, uint64_t pte);
// Harvest's visitor: the 4 KiB leaf at va as it was before its accessed and dirty bits were cleared.
using HarvestVisitor = void (*)(void* ctx, VirtAddr va, uint64_t pte);

class Mmu {
 public:
  // Whether the CPU has 1 GiB pages (CPUID 0x80000001 EDX.Page1GB).
  enum class GiantPages { kNo, kYes };
  static constexpr PhysAddr kArchPhysLimit = x86::kArchPhysLimit;  // layout.h
  // Surplus above this many pages in a CPU's pool goes back to the allocator.
  static constexpr unsigned kPoolLimit = 64;
  // Whether CR4.PCIDE is on; without it every PCID is 0.
  enum class Pcids { kNo, kYes };
  static constexpr unsigned kPcids = 4096;

  // `tables` reaches every page the allocator hands out. Constant-initialisable, so the kernel's Mmu is a
  // plain global.
  constexpr Mmu(DirectMap tables, PtPageAllocator& allocator, CpuOps& cpu)
      : tables_(tables), allocator_(allocator), cpu_(cpu) {}

  // Makes the kernel's top-level table with the shared kernel half. Call once before anything else.
  // Pmap refuses physical addresses at or above `phys_limit` (the CPU's, from CPUID; by default the
  // architecture's, which is also what a page-table entry can hold).
  MmuStatus Init(GiantPages giant, PhysAddr phys_limit = kArchPhysLimit);
  PhysAddr kernel_table() const { return kernel_table_; }
  // Changes how page-table pages are reached (the kernel moves from its boot window to the direct map).
  void SetTableWindow(DirectMap tables) { tables_ = tables; }
  // The RAM the direct map covers, [0, end): Kmap uses the direct map for pages below it.
  void SetDirectMapEnd(PhysAddr end) { direct_end_ = end; }
  // What Vmap must know of physical memory: the machine's RAM (n ranges), which it refuses, and the
  // MTRRs, which its cache types must agree with. Both must outlive the Mmu. Call before the first Vmap.
  void SetPhysicalMemory(const RamRange* ram, size_t n, const Mtrrs& mtrrs) {
    ram_ = ram;
    ram_count_ = n;
    mtrrs_ = &mtrrs;
  }

  // The one walk: va's entry at `level` of `table` (level 0 = 4 KiB entries), creating missing tables
  // on the way when `create` says so. Returns nullptr at a hole (without create), when a large leaf
  // above `level` covers va, or when no page is left for a table; `path` (optional) tells which.
  // O(levels).
  uint64_t* MmuWalk(PhysAddr table, VirtAddr va, unsigned level, Create create, WalkPath* path = nullptr);

  // MmuWalk, Pmap, Punmap, Protect, Translate, MmuSwitch, MmuRelease and VisitLeaves take a top-level
  // table from Init or NewAddressSpace that has not been released; anything else panics (O(1): one
  // marker word). Kernel addresses change only through kernel_table(): through any other table Pmap,
  // Punmap and Protect return kWrongHalf, and MmuWalk panics rather than create tables there.

  // Pmap, Punmap and Protect collect what they make stale in `batch` (mm/vm/tlb.h), whose scope is the
  // range's half, and flush nothing; the caller runs the batch with Finish or through its AddressSpace.
  // The forms without a batch finish it themselves: a kernel range is shot down on every online CPU, a
  // user range flushed on this CPU if it has the table loaded (a user table other CPUs load changes
  // through its AddressSpace, which knows them).

  // Maps [va, va + size) to [pa, pa + size) with the largest pages that alignment and size allow.
  // All-or-nothing: on any error the table is as before (what a partial map had done goes into the batch).
  // Success makes nothing stale: nothing that was present changes.
  MmuStatus Pmap(PhysAddr table, PhysAddr pa, VirtAddr va, uint64_t size, Attr attrs, TlbBatch& batch);
  MmuStatus Pmap(PhysAddr table, PhysAddr pa, VirtAddr va, uint64_t size, Attr attrs);
  // Unmaps whatever is mapped in [va, va + size), splitting large pages that straddle its ends and
  // unlinking tables that become empty into the batch; holes are skipped.
  MmuStatus Punmap(PhysAddr table, VirtAddr va, uint64_t size, TlbBatch& batch);
  MmuStatus Punmap(PhysAddr table, VirtAddr va, uint64_t size);
  // Gives every mapped page of [va, va + size) the attributes `attrs`, splitting as Punmap does.
  MmuStatus Protect(PhysAddr table, VirtAddr va, uint64_t size, Attr attrs, TlbBatch& batch);
  MmuStatus Protect(PhysAddr table, VirtAddr va, uint64_t size, Attr attrs);
  // Points the present 4 KiB leaf at va to the frame `pa` with `attrs` (a copy-on-write copy taking a
  // shared page's place); kNotMapped unless a 4 KiB leaf maps va. No table is made or freed, so it never
  // runs out of memory. O(levels).
  MmuStatus Repoint(PhysAddr table, VirtAddr va, PhysAddr pa, Attr attrs, TlbBatch& batch);

  // Clears the accessed and dirty bits of every present 4 KiB leaf in [va, va + size) (larger leaves and
  // holes are skipped) and calls visit with each leaf as it was, in address order; each leaf that had
  // either bit goes into the batch. The bits are cleared by an atomic AND: another CPU's page walker may
  // set them at any moment, and a plain store would lose a dirty bit set between its read and its write.
  // O(levels) per leaf table met plus O(1) per leaf.
  MmuStatus Harvest(PhysAddr table, VirtAddr va, uint64_t size, HarvestVisitor visit, void* ctx, TlbBatch& batch);

  // The batch on this CPU: each page by invlpg, or past TlbBatch::kMaxPages the whole TLB (global scope:
  // CR4.PGE toggled; a space's: its CR3 reloaded with flush). For a space's batch the space is loaded here.
  // With PCIDs a kernel batch that frees tables is a global flush too: invlpg drops the paging-structure
  // caches of the current PCID only, and kernel tables are cached under every PCID.
  TlbDone FlushHere(const TlbBatch& batch);
  // The batch's page-table pages back to this CPU's pool (surplus to the allocator), once no CPU can walk
  // through them any more.
  void Reclaim(TlbBatch& batch);
  // The batch-less forms' ending: flushes where the comment above says, then Reclaim.
  void Finish(PhysAddr table, TlbBatch& batch);

  // O(levels); no allocation. Through the kernel's table it holds the kernel tables' lock (another CPU may
  // be changing them), unless the calling CPU holds it already.
  Translation Translate(PhysAddr table, VirtAddr va);

  // Maps device memory [pa, pa + size) (any alignment) writable, NX, global, in the VMAP window, with the
  // memory type `cache`; *va gets the address of pa. Refuses RAM (kIsRam), as Linux's ioremap does, and
  // any cache type whose effective type, combined with the range's MTRR type, would not be the one asked
  // for (kMixedMemoryType, kMemoryTypeConflict): a mapping never gets a type its caller did not expect.
  // Vunmap takes the address and size Vmap was given. O(RAM ranges + MTRRs + pages).
  MmuStatus Vmap(PhysAddr pa, uint64_t size, VirtAddr* va, Cache cache = Cache::kUncached);
  MmuStatus Vunmap(VirtAddr va, uint64_t size);
  // The VMAP window's ranges: Vmap's, and Vmalloc's (mm/vm/vmalloc.h), which shares the window as Linux's
  // vmalloc and ioremap share theirs.
  KvaArena& vmap_arena() { return vmap_arena_; }

  // *va gets a kernel address for one page: the direct map when it covers the page, otherwise the lowest
  // free KMAP slot, which stays the caller's until Kunmap. kNoSpace when all kKmapSlots are in use (a
  // slot is never taken from its holder); O(kKmapSlots / 64). Kunmap releases a KMAP slot, shot down on
  // every CPU before the slot can be handed out again, and is a no-op for direct-map addresses; Kunmap of
  // any other address, or of a slot no one holds, panics with the address.
  //
  // KMAP is a fixed slot map, not a KvaArena as VMAP is: every request is exactly one page, so a slot's
  // index is its address and its bit is its whole record; the arena's records, first-fit search and guard
  // pages would buy nothing for one-page ranges, and a bitmap makes the double-Kunmap check one bit test.
  MmuStatus Kmap(PhysAddr page, VirtAddr* va);
  void Kunmap(VirtAddr va);

  // A new address space: an empty user half, the shared kernel half.
  MmuStatus NewAddressSpace(PhysAddr* table);
  // Loads `table` with `pcid` on the calling CPU unless it is loaded there already; `reuse` as for
  // CpuOps::LoadCr3. Without PCIDs (SetPcids) both are ignored: PCID 0, flushed. PCID 0 is the kernel's
  // and every space's that has none; it is always loaded flushed.
  void MmuSwitch(PhysAddr table, uint16_t pcid = 0, TlbReuse reuse = TlbReuse::kFlush);
  // Frees every user page-table page of `table` and `table` itself into this CPU's pool (surplus to the
  // allocator); switches to the kernel table first if `table` is loaded. O(tables of the space). The
  // table is marked released: using it again panics, until NewAddressSpace hands the page out anew.
  void MmuRelease(PhysAddr table);
  // The table the calling CPU has loaded.
  PhysAddr current() { return current_[cpu_.CpuId()].root; }

  // PCIDs: SetPcids once the CPU has CR4.PCIDE on (before any MmuSwitch with a PCID). NewPcid hands out an
  // unused one, or 0 when there are none or the CPU has none (that space is then flushed on every load);
  // FreePcid takes it back. O(kPcids / 64).
  void SetPcids(Pcids pcids) { pcids_ = pcids; }
  Pcids pcids() const { return pcids_; }
  uint16_t NewPcid();
  void FreePcid(uint16_t pcid);

  void VisitLeaves(PhysAddr table, LeafVisitor visit, void* ctx);

  // Page-table pages in tables now (the kernel's included) and pages in this CPU's pool.
  uint64_t table_pages() const { return __atomic_load_n(&table_pages_, __ATOMIC_RELAXED); }
  unsigned pool_pages() { return pools_[cpu_.CpuId()].count; }
  // The pages of user table `table`'s own tables: its top level and every table below it in the user
  // half (the kernel half's are shared). Under the space's lock. O(tables).
  uint64_t UserTablePages(PhysAddr table);
  // Calls visit(ctx, page) for every page in every CPU's pool: on a quiet machine (no table coming or
  // going), for counts that must add up. O(pooled pages).
  void VisitPooled(void (*visit)(void* ctx, PhysAddr page), void* ctx);

 private:
  struct Pool {
    PhysAddr head;
    unsigned count;
  };
  // Room for a kernel stack per thread (kernel/sched) besides the device windows and vmalloc buffers.
  static constexpr unsigned kMaxVmaps = 512;
  enum class RangeOp { kUnmap, kProtect };

  uint64_t* Table(PhysAddr pa) { return tables_.Kaddr<uint64_t>(pa); }
  uint64_t* Walk(uint64_t* top, VirtAddr va, unsigned level, Create create, WalkPath& path);
  bool AllocTable(PhysAddr* page);
  void FreeTable(PhysAddr page);
  uint64_t* LiveTop(PhysAddr table, const char* op);
  MmuStatus CheckRange(PhysAddr table, VirtAddr va, uint64_t size) const;
  MmuStatus CheckPhys(PhysAddr pa, uint64_t size) const;
  MmuStatus CheckAttrs(VirtAddr va, Attr attrs) const;
  MmuStatus CheckMemoryType(PhysAddr base, uint64_t size, Cache cache) const;
  static TlbScope ScopeOf(VirtAddr va) { return IsUserAddress(va) ? TlbScope::kSpace : TlbScope::kGlobal; }
  void BatchFree(TlbBatch& batch, PhysAddr page) { batch.AddTable(page, Table(page)); }
  bool ReleaseEmpty(TlbBatch& batch, VirtAddr va, const WalkPath& path, unsigned level);
  unsigned LeafLevel(VirtAddr va, PhysAddr pa, uint64_t left) const;
  bool Split(uint64_t* leaf, unsigned level, VirtAddr va);
  MmuStatus ChangeRange(PhysAddr table, VirtAddr va, uint64_t size, RangeOp op, Attr attrs, TlbBatch& batch);
  void FreeSubtree(PhysAddr table, unsigned level);
  uint64_t CountSubtree(PhysAddr table, unsigned level);
  class TablesLock;
  void VisitTable(PhysAddr table, unsigned level, uint64_t base, LeafVisitor visit, void* ctx);

  DirectMap tables_;
  PtPageAllocator& allocator_;
  CpuOps& cpu_;
  GiantPages giant_ = GiantPages::kNo;
  PhysAddr phys_limit_ = kArchPhysLimit;
  // What a CPU has loaded.
  struct Loaded {
    PhysAddr root;
    uint16_t pcid;
  };
  PhysAddr kernel_table_;
  Loaded current_[kMaxCpus] = {};
  Pcids pcids_ = Pcids::kNo;
  // Bit p of word p / 64 is set while PCID p is a space's; PCID 0 is never handed out.
  uint64_t pcid_used_[kPcids / 64] = {1};
  PhysAddr direct_end_;
  const RamRange* ram_ = nullptr;
  size_t ram_count_ = 0;
  const Mtrrs* mtrrs_ = nullptr;
  uint64_t table_pages_ = 0;  // atomic: tables come and go on every CPU
  Pool pools_[kMaxCpus] = {};
  // The VMAP window's ranges (mm/vm/kva.h), one record per live Vmap.
  KvaRecord vmap_records_[kMaxVmaps] = {};
  KvaArena vmap_arena_{"vmap", VirtAddr(kVmap), kVmapSize, vmap_records_, kMaxVmaps};
  // Bit s of word s / 64 is set while KMAP slot s is held (atomic: set by Kmap before it maps the slot,
  // cleared by Kunmap after every CPU has flushed it).
  uint64_t kmap_used_[kKmapSlots / 64] = {};
  // Protects the kernel's tables below its top level (shared by every space) against two CPUs changing
  // them at once, and Translate against reading a change half made: held by Pmap, Punmap, Protect and
  // Translate through kernel_table_, whether they come from the
  // kernel's AddressSpace (whose lock is above it), Vmap and Kmap, or a self-test. User tables are their
  // AddressSpace's to serialise. Below the address-space level, above the allocators the walk takes
  // table pages from (palloc's zones, xalloc's Rampage); never held across a shootdown.
  SpinLock kernel_tables_lock_{"kernel page tables", LockLevel::kPageTables};
};

// The PTE bits of `attrs` (no Present, no Large).
uint64_t PteBits(Attr attrs);
// The attributes a leaf entry carries: kUncached for PCD (PAT UC or UC-), kWriteCombining for PWT alone.
Attr PteAttrs(uint64_t pte);
// The memory-type letter of the dumps: 'C' uncached, 'c' write-combining, '-' write-back.
char CacheFlag(Attr attrs);

}  // namespace kmem::x86
