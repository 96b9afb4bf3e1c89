#include "arch/x86_64/mmu.h"

#include "mm/base/panic.h"

namespace kmem::x86 {
namespace {

// The PML4 slots of the kernel half that the layout uses (direct map through KMAP, and KZERO); Init gives
// each a shared third-level table.
constexpr unsigned kFirstSharedSlot = PteIndex(VirtAddr(kDirectMap), kTopLevel);
constexpr unsigned kLastSharedSlot = PteIndex(VirtAddr(kKmap), kTopLevel);
constexpr unsigned kKzeroSlot = PteIndex(VirtAddr(kKzero), kTopLevel);

constexpr bool IsSharedSlot(unsigned slot) {
  return (slot >= kFirstSharedSlot && slot <= kLastSharedSlot) || slot == kKzeroSlot;
}

constexpr uint64_t kLeafKeep = pte::kAddrMask | pte::kLarge | pte::kAccessed | pte::kDirty;

// Every live top-level table holds kLiveSpace in the kMarkSlot entry; MmuRelease overwrites it with
// kReleasedSpace before the page goes to the pool. The entry is not present, so the CPU ignores its other
// bits; the slot is in the kernel half but not shared, so no map or walk ever fills it; NewAddressSpace
// copies it with the rest of the kernel half. A pool page reused as a lower-level table is zeroed there,
// and reused as a new space it is live again, which is what it then is.
constexpr unsigned kMarkSlot = kKzeroSlot - 1;
constexpr uint64_t kLiveSpace = 0x4c49564553504100;      // "LIVESPA" in ASCII
constexpr uint64_t kReleasedSpace = 0x4445414453504100;  // "DEADSPA"
static_assert(!IsSharedSlot(kMarkSlot) && kMarkSlot >= kEntriesPerTable / 2, "the marker needs a kernel slot no map reaches");
static_assert((kLiveSpace & pte::kPresent) == 0 && (kReleasedSpace & pte::kPresent) == 0, "markers are not-present entries");
static_assert(kKmapSlots % 64 == 0, "kmap_used_ holds whole words of slots");

[[noreturn, gnu::noinline, gnu::cold]] void BadSpace(PhysAddr table, const char* op, uint64_t mark) {
  if (mark == kReleasedSpace) Panic("mmu: %s on address space 0x%lx: the space was released", op, table.value());
  Panic("mmu: %s on 0x%lx: not an address space (its marker entry is 0x%lx)", op, table.value(), mark);
}

unsigned Count(uint64_t e) { return static_cast<unsigned>((e & pte::kCountMask) >> pte::kCountShift); }
void SetCount(uint64_t* e, unsigned n) { *e = (*e & ~pte::kCountMask) | (uint64_t{n} << pte::kCountShift); }
bool IsLeaf(uint64_t e, unsigned level) { return level == 0 || (e & pte::kLarge) != 0; }
PhysAddr EntryAddr(uint64_t e) { return PhysAddr(e & pte::kAddrMask); }

// Sign-extends bit 47, so that a VA assembled from table indices is canonical.
uint64_t Canonical(uint64_t va) { return (va & (uint64_t{1} << 47)) != 0 ? va | ~(kUserLimit - 1) : va; }

}  // namespace

const char* MmuStatusName(MmuStatus status) {
  switch (status) {
    case MmuStatus::kOk: return "ok";
    case MmuStatus::kMisaligned: return "misaligned";
    case MmuStatus::kNonCanonical: return "non-canonical";
    case MmuStatus::kWrongHalf: return "wrong half";
    case MmuStatus::kAlreadyMapped: return "already mapped";
    case MmuStatus::kNotMapped: return "not mapped";
    case MmuStatus::kNoMemory: return "no memory for page tables";
    case MmuStatus::kNoSpace: return "no VMAP space or KMAP slot";
    case MmuStatus::kBadPhysAddr: return "physical range beyond the CPU's physical addresses";
    case MmuStatus::kIsRam: return "RAM (the direct map has it write-back)";
    case MmuStatus::kMixedMemoryType: return "the MTRRs give the range more than one memory type";
    case MmuStatus::kMemoryTypeConflict: return "the range's MTRR type overrides the cache type asked for";
  }
  return "?";
}

uint64_t PteBits(Attr attrs) {
  uint64_t bits = 0;
  if (Has(attrs, Attr::kWrite)) bits |= pte::kWrite;
  if (!Has(attrs, Attr::kExec)) bits |= pte::kNoExecute;
  if (Has(attrs, Attr::kUser)) bits |= pte::kUser;
  if (Has(attrs, Attr::kGlobal)) bits |= pte::kGlobal;
  if (Has(attrs, Attr::kUncached)) {
    bits |= pte::kCacheDisable | pte::kWriteThrough;
  } else if (Has(attrs, Attr::kWriteCombining)) {
    bits |= pte::kWriteThrough;
  }
  return bits;
}

Attr PteAttrs(uint64_t e) {
  Attr a = Attr::kRead;
  if ((e & pte::kWrite) != 0) a = a | Attr::kWrite;
  if ((e & pte::kNoExecute) == 0) a = a | Attr::kExec;
  if ((e & pte::kUser) != 0) a = a | Attr::kUser;
  if ((e & pte::kGlobal) != 0) a = a | Attr::kGlobal;
  if ((e & pte::kCacheDisable) != 0) {
    a = a | Attr::kUncached;
  } else if ((e & pte::kWriteThrough) != 0) {
    a = a | Attr::kWriteCombining;
  }
  return a;
}

char CacheFlag(Attr attrs) {
  if (Has(attrs, Attr::kUncached)) return 'C';
  return Has(attrs, Attr::kWriteCombining) ? 'c' : '-';
}

bool Mmu::AllocTable(PhysAddr* page) {
  Pool& pool = pools_[cpu_.CpuId()];
  if (pool.count > 0) {
    *page = pool.head;
    pool.head = PhysAddr(*Table(pool.head));
    --pool.count;
  } else if (!allocator_.Alloc(page)) {
    return false;
  }
  KASSERT(page->IsAlignedTo(kPageSize), "page-table page 0x%lx is not page-aligned", page->value());
  uint64_t* t = Table(*page);
  for (unsigned i = 0; i < kEntriesPerTable; ++i) t[i] = 0;
  __atomic_fetch_add(&table_pages_, 1, __ATOMIC_RELAXED);
  return true;
}

void Mmu::FreeTable(PhysAddr page) {
  __atomic_fetch_sub(&table_pages_, 1, __ATOMIC_RELAXED);
  Pool& pool = pools_[cpu_.CpuId()];
  if (pool.count >= kPoolLimit) {
    allocator_.Free(page);
    return;
  }
  *Table(page) = pool.head.value();
  pool.head = page;
  ++pool.count;
}

void Mmu::VisitPooled(void (*visit)(void* ctx, PhysAddr page), void* ctx) {
  for (const Pool& pool : pools_) {
    PhysAddr page = pool.head;
    for (unsigned i = 0; i < pool.count; ++i, page = PhysAddr(*Table(page))) visit(ctx, page);
  }
}

MmuStatus Mmu::Init(GiantPages giant, PhysAddr phys_limit) {
  KASSERT(phys_limit.IsAlignedTo(kPageSize) && phys_limit > PhysAddr() && phys_limit <= kArchPhysLimit,
          "physical limit 0x%lx", phys_limit.value());
  giant_ = giant;
  phys_limit_ = phys_limit;
  if (!AllocTable(&kernel_table_)) return MmuStatus::kNoMemory;
  uint64_t* top = Table(kernel_table_);
  top[kMarkSlot] = kLiveSpace;
  for (unsigned slot = kFirstSharedSlot; slot < kEntriesPerTable; ++slot) {
    if (!IsSharedSlot(slot)) continue;
    PhysAddr t;
    if (!AllocTable(&t)) return MmuStatus::kNoMemory;
    top[slot] = t.value() | pte::kPresent | pte::kWrite;
  }
  return MmuStatus::kOk;
}

uint64_t* Mmu::MmuWalk(PhysAddr table, VirtAddr va, unsigned level, Create create, WalkPath* path) {
  KASSERT(level <= kTopLevel, "walk to level %u", level);
  uint64_t* const top = LiveTop(table, "walk");
  // The rule CheckRange enforces for Pmap: tables for the kernel half are made in the kernel's table.
  KASSERT(create == Create::kNo || IsUserAddress(va) || (table == kernel_table_ && IsSharedSlot(PteIndex(va, kTopLevel))),
          "walk creating tables for 0x%lx in table 0x%lx: kernel tables only in the kernel's shared slots", va.value(),
          table.value());
  WalkPath local;
  return Walk(top, va, level, create, path != nullptr ? *path : local);
}

// MmuWalk's body from the top-level table LiveTop returned, inlined into the MMU's own callers so that
// each gets it specialised for its constant level and create mode (Translate's hot path is then a bare
// four-load walk).
[[gnu::always_inline]] inline uint64_t* Mmu::Walk(uint64_t* top, VirtAddr va, unsigned level, Create create,
                                                  WalkPath& p) {
  // A local copy: the compiler cannot know that stores into `path` leave the window alone.
  const DirectMap tables = tables_;
  uint64_t* e = &top[PteIndex(va, kTopLevel)];
  for (unsigned l = kTopLevel;; --l) {
    p.entry[l] = e;
    p.level = l;
    if (l == level) return e;
    if ((*e & pte::kPresent) == 0) {
      PhysAddr t;
      if (create == Create::kNo || !AllocTable(&t)) return nullptr;
      *e = t.value() | pte::kPresent | pte::kWrite | (IsUserAddress(va) ? pte::kUser : 0);
      if (l < kTopLevel) SetCount(p.entry[l + 1], Count(*p.entry[l + 1]) + 1);
    } else if (IsLeaf(*e, l)) {
      return nullptr;
    }
    e = &tables.Kaddr<uint64_t>(EntryAddr(*e))[PteIndex(va, l - 1)];
  }
}

// The top-level table `table` through the window, once per operation; panics unless it is a live
// space. O(1): a load and a compare.
[[gnu::always_inline]] inline uint64_t* Mmu::LiveTop(PhysAddr table, const char* op) {
  uint64_t* const top = Table(table);
  if (__builtin_expect(top[kMarkSlot] != kLiveSpace, 0)) BadSpace(table, op, top[kMarkSlot]);
  return top;
}

// The kernel half is changed only through the kernel's table: its top-level entries hold the counts of
// the shared tables, which the copies in other spaces do not follow.
MmuStatus Mmu::CheckRange(PhysAddr table, VirtAddr va, uint64_t size) const {
  if (size == 0 || !va.IsAlignedTo(kPageSize) || !IsAligned(size, kPageSize)) return MmuStatus::kMisaligned;
  VirtAddr last = va + (size - 1);
  if (last < va || !IsCanonical(va) || !IsCanonical(last)) return MmuStatus::kNonCanonical;
  if (IsUserAddress(va) != IsUserAddress(last)) return MmuStatus::kWrongHalf;
  if (IsUserAddress(va)) return MmuStatus::kOk;
  if (table != kernel_table_) return MmuStatus::kWrongHalf;
  for (unsigned s = PteIndex(va, kTopLevel); s <= PteIndex(last, kTopLevel); ++s) {
    if (!IsSharedSlot(s)) return MmuStatus::kWrongHalf;
  }
  return MmuStatus::kOk;
}

// Past the CPU's physical width a frame address would lose its top bits or spill into the entry's
// attribute bits.
MmuStatus Mmu::CheckPhys(PhysAddr pa, uint64_t size) const {
  return pa >= phys_limit_ || size > phys_limit_ - pa ? MmuStatus::kBadPhysAddr : MmuStatus::kOk;
}

// User pages belong in the user half and nowhere else; global entries only in the shared kernel half.
MmuStatus Mmu::CheckAttrs(VirtAddr va, Attr attrs) const {
  if (IsUserAddress(va)) {
    return Has(attrs, Attr::kUser) && !Has(attrs, Attr::kGlobal) ? MmuStatus::kOk : MmuStatus::kWrongHalf;
  }
  return Has(attrs, Attr::kUser) ? MmuStatus::kWrongHalf : MmuStatus::kOk;
}

TlbDone Mmu::FlushHere(const TlbBatch& b) {
  const bool every_pcid = b.scope() == TlbScope::kGlobal && b.table_count() > 0 && pcids_ == Pcids::kYes;
  if (!b.full() && !every_pcid) {
    for (unsigned i = 0; i < b.count(); ++i) cpu_.Invlpg(b.page(i));
    return TlbDone::kPages;
  }
  if (b.scope() == TlbScope::kGlobal) {
    cpu_.FlushGlobal();
  } else {
    const Loaded& here = current_[cpu_.CpuId()];
    cpu_.LoadCr3(here.root, here.pcid, TlbReuse::kFlush);
  }
  return TlbDone::kFull;
}

void Mmu::Reclaim(TlbBatch& b) {
  const IrqState irq = IrqSave();  // the pool is this CPU's
  PhysAddr page = b.tables();
  for (unsigned i = 0; i < b.table_count(); ++i) {
    const PhysAddr next(*Table(page));
    FreeTable(page);
    page = next;
  }
  b.ClearTables();
  IrqRestore(irq);
}

void Mmu::Finish(PhysAddr table, TlbBatch& b) {
  CpuSet cpus = OnlineCpus();
  if (b.scope() == TlbScope::kSpace) {
    const IrqState irq = IrqSave();
    cpus = current() == table ? CpuSet::Of(cpu_.CpuId()) : CpuSet();
    IrqRestore(irq);
  }
  TlbShootdown(
      cpus, b,
      [](void* mmu, const TlbBatch& batch) { return static_cast<Mmu*>(mmu)->FlushHere(batch); },
      this);
  Reclaim(b);
}

// The entry path.entry[level] was just cleared: counts go down and tables that became empty go, bottom up.
// The shared kernel-half third-level tables stay. Returns whether the table holding that entry stays.
bool Mmu::ReleaseEmpty(TlbBatch& b, VirtAddr va, const WalkPath& path, unsigned level) {
  for (unsigned l = level; l < kTopLevel; ++l) {
    uint64_t* parent = path.entry[l + 1];
    unsigned n = Count(*parent);
    KASSERT(n > 0, "table count underflow at level %u for va 0x%lx", l, va.value());
    SetCount(parent, n - 1);
    if (n > 1 || (l + 1 == kTopLevel && !IsUserAddress(va))) return l == level;
    BatchFree(b, EntryAddr(*parent));
    *parent = 0;
  }
  return false;
}

MmuStatus Mmu::Pmap(PhysAddr table, PhysAddr pa, VirtAddr va, uint64_t size, Attr attrs) {
  TlbBatch b(ScopeOf(va));
  const MmuStatus s = Pmap(table, pa, va, size, attrs, b);
  Finish(table, b);
  return s;
}

// Holds kernel_tables_lock_ for a change through `table` when that is the kernel's table; for a reader
// (Translate), not when this CPU holds it already: a fault report from inside a change reads the tables
// the change is writing, on the CPU that writes them.
class Mmu::TablesLock {
 public:
  enum class For : uint8_t { kChange, kRead };
  TablesLock(Mmu& mmu, PhysAddr table, For use = For::kChange)
      : lock_(table == mmu.kernel_table_ && (use == For::kChange || !mmu.kernel_tables_lock_.HeldHere())
                  ? &mmu.kernel_tables_lock_
                  : nullptr) {
    if (lock_ != nullptr) lock_->Lock();
  }
  ~TablesLock() {
    if (lock_ != nullptr) lock_->Unlock();
  }
  TablesLock(const TablesLock&) = delete;
  TablesLock& operator=(const TablesLock&) = delete;

 private:
  SpinLock* lock_;
};

MmuStatus Mmu::Pmap(PhysAddr table, PhysAddr pa, VirtAddr va, uint64_t size, Attr attrs, TlbBatch& b) {
  TablesLock hold(*this, table);
  uint64_t* const top = LiveTop(table, "pmap");
  if (!pa.IsAlignedTo(kPageSize)) return MmuStatus::kMisaligned;
  MmuStatus status = CheckRange(table, va, size);
  if (status == MmuStatus::kOk) status = CheckPhys(pa, size);
  if (status == MmuStatus::kOk) status = CheckAttrs(va, attrs);
  if (status != MmuStatus::kOk) return status;
  const uint64_t bits = PteBits(attrs) | pte::kPresent;
  uint64_t done = 0;
  while (done < size) {
    const unsigned level = LeafLevel(va + done, pa + done, size - done);
    WalkPath path;
    // 4 KiB leaves, the common case, get the walk specialised for a constant level (unrolled, no level
    // compares); larger leaves are rare enough for the generic one.
    uint64_t* e = level == 0 ? Walk(top, va + done, 0, Create::kYes, path)
                             : Walk(top, va + done, level, Create::kYes, path);
    if (e == nullptr || (*e & pte::kPresent) != 0) {
      status = e != nullptr || (*path.entry[path.level] & pte::kPresent) != 0 ? MmuStatus::kAlreadyMapped
                                                                                : MmuStatus::kNoMemory;
      // Tables this walk made and left empty go back, then whatever this call mapped. A CPU may have cached
      // the new tables' upper entries: an invlpg of the address drops those.
      if (e == nullptr && status == MmuStatus::kNoMemory && path.level < kTopLevel &&
          Count(*path.entry[path.level + 1]) == 0) {
        SetCount(path.entry[path.level + 1], 1);
        ReleaseEmpty(b, va + done, path, path.level);
        b.AddPage(va + done);
      }
      if (done > 0) ChangeRange(table, va, done, RangeOp::kUnmap, Attr::kRead, b);
      return status;
    }
    // The rest of this table takes no new walk while the same page size fits and the entries are free;
    // a present entry ends the run and the next walk reports it.
    uint64_t* const end = e - PteIndex(va + done, level) + kEntriesPerTable;
    unsigned added = 0;
    do {
      *e++ = (pa + done).value() | bits | (level > 0 ? pte::kLarge : 0);
      ++added;
      done += LevelSize(level);
    } while (done < size && e != end && (*e & pte::kPresent) == 0 && LeafLevel(va + done, pa + done, size - done) == level);
    if (level < kTopLevel) SetCount(path.entry[level + 1], Count(*path.entry[level + 1]) + added);
  }
  return MmuStatus::kOk;
}

// The largest page size whose alignment both addresses have and that `left` bytes fill.
unsigned Mmu::LeafLevel(VirtAddr va, PhysAddr pa, uint64_t left) const {
  unsigned level = giant_ == GiantPages::kYes ? 2 : 1;
  while (level > 0 && (!IsAligned(va.value() | pa.value(), LevelSize(level)) || left < LevelSize(level))) --level;
  return level;
}

// Replaces the large leaf *leaf at `level` by a table of 512 leaves one level down with the same
// translations. Needs no flush: whoever splits changes part of the range next and invalidates that page,
// which drops the large TLB entry.
bool Mmu::Split(uint64_t* leaf, unsigned level, VirtAddr va) {
  PhysAddr t;
  if (!AllocTable(&t)) return false;
  uint64_t* child = Table(t);
  const uint64_t base = *leaf & pte::kAddrMask & ~(LevelSize(level) - 1);
  const uint64_t bits = (*leaf & ~pte::kAddrMask & ~pte::kLarge) | (level - 1 > 0 ? pte::kLarge : 0);
  for (unsigned i = 0; i < kEntriesPerTable; ++i) child[i] = (base + i * LevelSize(level - 1)) | bits;
  *leaf = t.value() | pte::kPresent | pte::kWrite | (IsUserAddress(va) ? pte::kUser : 0);
  SetCount(leaf, kEntriesPerTable);
  return true;
}

// Inlined into Punmap and Protect, so that each gets the loop specialised for its operation.
[[gnu::always_inline]] inline MmuStatus Mmu::ChangeRange(PhysAddr table, VirtAddr va, uint64_t size, RangeOp op,
                                                         Attr attrs, TlbBatch& b) {
  uint64_t* const top = LiveTop(table, op == RangeOp::kUnmap ? "punmap" : "protect");
  MmuStatus status = CheckRange(table, va, size);
  if (status == MmuStatus::kOk && op == RangeOp::kProtect) status = CheckAttrs(va, attrs);
  if (status != MmuStatus::kOk) return status;
  const uint64_t bits = PteBits(attrs);
  uint64_t left = size;
  VirtAddr cur = va;
  while (left > 0) {
    WalkPath path;
    uint64_t* e = Walk(top, cur, 0, Create::kNo, path);
    const unsigned l = path.level;
    uint64_t* entry = path.entry[l];
    const uint64_t offset = cur.value() & (LevelSize(l) - 1);
    const uint64_t span = LevelSize(l) - offset;
    if ((*entry & pte::kPresent) == 0) {
      if (span >= left) break;
      left -= span;
      cur = cur + span;
      continue;
    }
    KASSERT(e != nullptr || IsLeaf(*entry, l), "walk stopped at a table, level %u", l);
    if (offset != 0 || left < LevelSize(l)) {
      if (!Split(entry, l, cur)) {
        status = MmuStatus::kNoMemory;
        break;
      }
      continue;
    }
    // The rest of this table takes no new walk while its entries are present leaves the range covers.
    uint64_t* const end = entry - PteIndex(cur, l) + kEntriesPerTable;
    for (;;) {
      bool table_stays = true;
      if (op == RangeOp::kUnmap) {
        *entry = 0;
        b.AddPage(cur);
        table_stays = ReleaseEmpty(b, cur, path, l);
      } else if (uint64_t next = (*entry & kLeafKeep) | bits | pte::kPresent; next != *entry) {
        *entry = next;
        b.AddPage(cur);
      }
      left -= LevelSize(l);
      cur = cur + LevelSize(l);
      if (!table_stays || ++entry == end || left < LevelSize(l) || (*entry & pte::kPresent) == 0 || !IsLeaf(*entry, l)) break;
    }
  }
  return status;
}

MmuStatus Mmu::Punmap(PhysAddr table, VirtAddr va, uint64_t size, TlbBatch& b) {
  TablesLock hold(*this, table);
  return ChangeRange(table, va, size, RangeOp::kUnmap, Attr::kRead, b);
}

MmuStatus Mmu::Protect(PhysAddr table, VirtAddr va, uint64_t size, Attr attrs, TlbBatch& b) {
  TablesLock hold(*this, table);
  return ChangeRange(table, va, size, RangeOp::kProtect, attrs, b);
}

MmuStatus Mmu::Repoint(PhysAddr table, VirtAddr va, PhysAddr pa, Attr attrs, TlbBatch& b) {
  TablesLock hold(*this, table);
  uint64_t* const top = LiveTop(table, "repoint");
  if (!va.IsAlignedTo(kPageSize) || !pa.IsAlignedTo(kPageSize)) return MmuStatus::kMisaligned;
  MmuStatus status = CheckRange(table, va, kPageSize);
  if (status == MmuStatus::kOk) status = CheckPhys(pa, kPageSize);
  if (status == MmuStatus::kOk) status = CheckAttrs(va, attrs);
  if (status != MmuStatus::kOk) return status;
  WalkPath path;
  uint64_t* const e = Walk(top, va, 0, Create::kNo, path);
  if (e == nullptr || path.level != 0 || (*e & pte::kPresent) == 0) return MmuStatus::kNotMapped;
  *e = pa.value() | PteBits(attrs) | pte::kPresent;
  b.AddPage(va);
  return MmuStatus::kOk;
}

MmuStatus Mmu::Harvest(PhysAddr table, VirtAddr va, uint64_t size, HarvestVisitor visit, void* ctx, TlbBatch& b) {
  TablesLock hold(*this, table);
  uint64_t* const top = LiveTop(table, "harvest");
  if (MmuStatus s = CheckRange(table, va, size); s != MmuStatus::kOk) return s;
  constexpr uint64_t kUse = pte::kAccessed | pte::kDirty;
  uint64_t left = size;
  VirtAddr cur = va;
  while (left > 0) {
    WalkPath path;
    uint64_t* e = Walk(top, cur, 0, Create::kNo, path);
    if (e == nullptr) {  // a hole, or a large leaf, at path.level: the rest of it is skipped
      const uint64_t span = LevelSize(path.level) - (cur.value() & (LevelSize(path.level) - 1));
      if (span >= left) break;
      left -= span;
      cur = cur + span;
      continue;
    }
    // The rest of this leaf table takes no new walk.
    for (uint64_t* const end = e - PteIndex(cur, 0) + kEntriesPerTable; e != end && left > 0; ++e) {
      uint64_t was = __atomic_load_n(e, __ATOMIC_RELAXED);
      if ((was & pte::kPresent) != 0) {
        if ((was & kUse) != 0) {
          was = __atomic_fetch_and(e, ~kUse, __ATOMIC_RELAXED);
          b.AddPage(cur);
        }
        visit(ctx, cur, was);
      }
      left -= kPageSize;
      cur = cur + kPageSize;
    }
  }
  return MmuStatus::kOk;
}

MmuStatus Mmu::Punmap(PhysAddr table, VirtAddr va, uint64_t size) {
  TlbBatch b(ScopeOf(va));
  const MmuStatus s = Punmap(table, va, size, b);
  Finish(table, b);
  return s;
}

MmuStatus Mmu::Protect(PhysAddr table, VirtAddr va, uint64_t size, Attr attrs) {
  TlbBatch b(ScopeOf(va));
  const MmuStatus s = Protect(table, va, size, attrs, b);
  Finish(table, b);
  return s;
}

Translation Mmu::Translate(PhysAddr table, VirtAddr va) {
  TablesLock hold(*this, table, TablesLock::For::kRead);
  uint64_t* const top = LiveTop(table, "translate");
  Translation t = {MmuStatus::kNotMapped, PhysAddr(), PageSize::k4K, Attr::kRead};
  if (!IsCanonical(va)) return t;
  WalkPath path;
  Walk(top, va, 0, Create::kNo, path);
  const unsigned l = path.level;
  const uint64_t e = *path.entry[l];
  if ((e & pte::kPresent) == 0 || !IsLeaf(e, l)) return t;
  const uint64_t mask = LevelSize(l) - 1;
  t.status = MmuStatus::kOk;
  t.pa = PhysAddr((e & pte::kAddrMask & ~mask) | (va.value() & mask));
  t.size = PageSize(l);
  t.attrs = PteAttrs(e);
  return t;
}

// RAM is refused outright; otherwise the PAT type asked for, combined with the MTRR type (SDM table 11-7),
// must give that same type.
MmuStatus Mmu::CheckMemoryType(PhysAddr base, uint64_t size, Cache cache) const {
  KASSERT(mtrrs_ != nullptr, "vmap of 0x%lx before SetPhysicalMemory", base.value());
  for (size_t i = 0; i < ram_count_; ++i) {
    if (base < ram_[i].end() && ram_[i].base < base + size) return MmuStatus::kIsRam;
  }
  const RangeType mtrr = mtrrs_->TypeOf(base, size);
  if (mtrr.uniform == Uniform::kNo) return MmuStatus::kMixedMemoryType;
  static constexpr MemoryType kWanted[] = {MemoryType::kUncached, MemoryType::kWriteCombining, MemoryType::kWriteBack};
  const MemoryType wanted = kWanted[static_cast<unsigned>(cache)];
  return EffectiveType(mtrr.type, wanted) == wanted ? MmuStatus::kOk : MmuStatus::kMemoryTypeConflict;
}

MmuStatus Mmu::Vmap(PhysAddr pa, uint64_t size, VirtAddr* va, Cache cache) {
  const PhysAddr base = pa.AlignedDown(kPageSize);
  uint64_t end;
  if (size == 0 || size > UINT64_MAX - pa.value() || !AlignUp(pa.value() + size, kPageSize, &end)) {
    return MmuStatus::kMisaligned;
  }
  const uint64_t len = end - base.value();
  if (MmuStatus s = CheckMemoryType(base, len, cache); s != MmuStatus::kOk) return s;
  // 2 MiB alignment when the size allows large pages.
  VirtAddr at;
  if (vmap_arena_.Alloc(len, len >= k2M ? k2M : kPageSize, Guard::kNone, &at) != KvaStatus::kOk) {
    return MmuStatus::kNoSpace;
  }
  static constexpr Attr kTypeAttr[] = {Attr::kUncached, Attr::kWriteCombining, Attr::kRead};
  const Attr attrs = Attr::kWrite | Attr::kGlobal | kTypeAttr[static_cast<unsigned>(cache)];
  MmuStatus status = Pmap(kernel_table_, base, at, len, attrs);
  if (status != MmuStatus::kOk) {
    vmap_arena_.Free(at, nullptr);
    return status;
  }
  *va = at + (pa - base);
  return MmuStatus::kOk;
}

MmuStatus Mmu::Vunmap(VirtAddr va, uint64_t size) {
  const VirtAddr base = va.AlignedDown(kPageSize);
  const KvaLookup l = vmap_arena_.Find(base);
  uint64_t end;
  if (l.place != KvaPlace::kRange || l.va != base || size > UINT64_MAX - va.value() ||
      !AlignUp(va.value() + size, kPageSize, &end) || end - base.value() != l.size) {
    return MmuStatus::kNotMapped;
  }
  Punmap(kernel_table_, base, l.size);
  vmap_arena_.Free(base, nullptr);
  return MmuStatus::kOk;
}

MmuStatus Mmu::Kmap(PhysAddr page, VirtAddr* va) {
  KASSERT(page.IsAlignedTo(kPageSize), "kmap of unaligned 0x%lx", page.value());
  if (page.value() < direct_end_.value()) {
    *va = DirectMapAddressOf(page);
    return MmuStatus::kOk;
  }
  // Takes the lowest free slot's bit first, so that two CPUs never map one slot.
  for (unsigned word = 0; word < kKmapSlots / 64; ++word) {
    uint64_t used = __atomic_load_n(&kmap_used_[word], __ATOMIC_RELAXED);
    while (used != ~uint64_t{0}) {
      const uint64_t bit = uint64_t{1} << __builtin_ctzll(~used);
      if (!__atomic_compare_exchange_n(&kmap_used_[word], &used, used | bit, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED)) {
        continue;
      }
      const VirtAddr at(kKmap + (word * 64 + static_cast<unsigned>(__builtin_ctzll(bit))) * kPageSize);
      if (MmuStatus s = Pmap(kernel_table_, page, at, kPageSize, Attr::kWrite | Attr::kGlobal); s != MmuStatus::kOk) {
        __atomic_fetch_and(&kmap_used_[word], ~bit, __ATOMIC_RELEASE);
        return s;
      }
      *va = at;
      return MmuStatus::kOk;
    }
  }
  return MmuStatus::kNoSpace;
}

void Mmu::Kunmap(VirtAddr va) {
  if (va.value() >= kDirectMap && va.value() - kDirectMap < direct_end_.value()) return;
  const uint64_t slot = (va.value() - kKmap) / kPageSize;
  const uint64_t bit = uint64_t{1} << (slot % 64);
  if (va.value() < kKmap || slot >= kKmapSlots || !va.IsAlignedTo(kPageSize) ||
      (__atomic_load_n(&kmap_used_[slot / 64], __ATOMIC_RELAXED) & bit) == 0) {
    Panic("mmu: kunmap of 0x%lx, which is no held KMAP slot and not in the direct map", va.value());
  }
  Punmap(kernel_table_, va, kPageSize);  // shot down on every CPU before the slot is free again
  __atomic_fetch_and(&kmap_used_[slot / 64], ~bit, __ATOMIC_RELEASE);
}

MmuStatus Mmu::NewAddressSpace(PhysAddr* table) {
  if (!AllocTable(table)) return MmuStatus::kNoMemory;
  const uint64_t* k = Table(kernel_table_);
  uint64_t* t = Table(*table);
  // The kernel's marker comes along: the new table is live.
  for (unsigned i = kEntriesPerTable / 2; i < kEntriesPerTable; ++i) t[i] = k[i];
  return MmuStatus::kOk;
}

void Mmu::MmuSwitch(PhysAddr table, uint16_t pcid, TlbReuse reuse) {
  LiveTop(table, "switch");
  KASSERT(pcid < kPcids, "pcid %u", pcid);
  if (pcids_ == Pcids::kNo || pcid == 0) {
    pcid = 0;
    reuse = TlbReuse::kFlush;
  }
  Loaded& here = current_[cpu_.CpuId()];
  if (here.root == table && here.pcid == pcid) return;
  here = Loaded{table, pcid};
  cpu_.LoadCr3(table, pcid, reuse);
}

// Lock-free: spaces are made and released on any CPU, and the Mmu has no lock of its own.
uint16_t Mmu::NewPcid() {
  if (pcids_ == Pcids::kNo) return 0;
  for (unsigned w = 0; w < kPcids / 64; ++w) {
    uint64_t used = __atomic_load_n(&pcid_used_[w], __ATOMIC_ACQUIRE);
    while (used != ~uint64_t{0}) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctzll(~used));
      if (__atomic_compare_exchange_n(&pcid_used_[w], &used, used | uint64_t{1} << bit, false, __ATOMIC_ACQ_REL,
                                      __ATOMIC_ACQUIRE)) {
        return static_cast<uint16_t>(w * 64 + bit);
      }
    }
  }
  return 0;
}

void Mmu::FreePcid(uint16_t pcid) {
  if (pcid == 0) return;
  KASSERT(pcid < kPcids, "mmu: free of pcid %u", pcid);
  const uint64_t bit = uint64_t{1} << (pcid % 64);
  const uint64_t was = __atomic_fetch_and(&pcid_used_[pcid / 64], ~bit, __ATOMIC_ACQ_REL);
  if ((was & bit) == 0) Panic("mmu: free of pcid %u, which is not in use", pcid);
}

void Mmu::FreeSubtree(PhysAddr table, unsigned level) {
  if (level > 0) {
    uint64_t* t = Table(table);
    for (unsigned i = 0; i < kEntriesPerTable; ++i) {
      if ((t[i] & pte::kPresent) != 0 && !IsLeaf(t[i], level)) FreeSubtree(EntryAddr(t[i]), level - 1);
    }
  }
  FreeTable(table);
}

uint64_t Mmu::CountSubtree(PhysAddr table, unsigned level) {
  uint64_t n = 1;
  if (level > 0) {
    const uint64_t* t = Table(table);
    for (unsigned i = 0; i < kEntriesPerTable; ++i) {
      if ((t[i] & pte::kPresent) != 0 && !IsLeaf(t[i], level)) n += CountSubtree(EntryAddr(t[i]), level - 1);
    }
  }
  return n;
}

uint64_t Mmu::UserTablePages(PhysAddr table) {
  const uint64_t* const top = LiveTop(table, "count");
  uint64_t n = 1;
  for (unsigned i = 0; i < kEntriesPerTable / 2; ++i) {
    if ((top[i] & pte::kPresent) != 0) n += CountSubtree(EntryAddr(top[i]), kTopLevel - 1);
  }
  return n;
}

void Mmu::MmuRelease(PhysAddr table) {
  uint64_t* const top = LiveTop(table, "release");
  KASSERT(table != kernel_table_, "releasing the kernel's table 0x%lx", table.value());
  if (table == current()) MmuSwitch(kernel_table_);
  for (unsigned i = 0; i < kEntriesPerTable / 2; ++i) {
    if ((top[i] & pte::kPresent) != 0) FreeSubtree(EntryAddr(top[i]), kTopLevel - 1);
  }
  top[kMarkSlot] = kReleasedSpace;
  FreeTable(table);
}

void Mmu::VisitTable(PhysAddr table, unsigned level, uint64_t base, LeafVisitor visit, void* ctx) {
  const uint64_t* t = Table(table);
  for (unsigned i = 0; i < kEntriesPerTable; ++i) {
    const uint64_t e = t[i];
    if ((e & pte::kPresent) == 0) continue;
    const uint64_t va = Canonical(base + i * LevelSize(level));
    if (IsLeaf(e, level)) {
      visit(ctx, VirtAddr(va), level, e);
    } else {
      VisitTable(EntryAddr(e), level - 1, va, visit, ctx);
    }
  }
}

void Mmu::VisitLeaves(PhysAddr table, LeafVisitor visit, void* ctx) {
  LiveTop(table, "visit");
  VisitTable(table, kTopLevel, 0, visit, ctx);
}

}  // namespace kmem::x86
