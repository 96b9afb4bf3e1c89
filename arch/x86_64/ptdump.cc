#include "arch/x86_64/ptdump.h"

#include "mm/base/format.h"

namespace kmem::x86 {
namespace {

constexpr uint64_t kAttrBits =
    pte::kWrite | pte::kUser | pte::kGlobal | pte::kCacheDisable | pte::kWriteThrough | pte::kNoExecute;

struct Run {
  uint64_t va;
  uint64_t pa;
  uint64_t count;
  unsigned level;
  uint64_t attrs;
};

struct DumpState {
  Run run;
  bool open;
  unsigned lines;
};

void PrintRun(DumpState& s) {
  if (!s.open) return;
  const Run& r = s.run;
  const uint64_t bytes = r.count * LevelSize(r.level);
  char size[24], page[8];
  FormatSize(size, sizeof size, bytes);
  FormatSize(page, sizeof page, LevelSize(r.level));
  Print("%016lx-%016lx %6s %5lu x %-2s %c%c%c%c%c -> %016lx\n", r.va, r.va + bytes, size, r.count, page,
        (r.attrs & pte::kUser) != 0 ? 'U' : '-', (r.attrs & pte::kWrite) != 0 ? 'W' : '-',
        (r.attrs & pte::kNoExecute) == 0 ? 'X' : '-', (r.attrs & pte::kGlobal) != 0 ? 'G' : '-',
        CacheFlag(PteAttrs(r.attrs)), r.pa);
  ++s.lines;
}

void DumpLeaf(void* ctx, VirtAddr va, unsigned level, uint64_t e) {
  auto& s = *static_cast<DumpState*>(ctx);
  const uint64_t size = LevelSize(level);
  const uint64_t pa = e & pte::kAddrMask & ~(size - 1);
  const uint64_t attrs = e & kAttrBits;
  Run& r = s.run;
  if (s.open && r.level == level && r.attrs == attrs && r.va + r.count * size == va.value() &&
      r.pa + r.count * size == pa) {
    ++r.count;
    return;
  }
  PrintRun(s);
  r = {va.value(), pa, 1, level, attrs};
  s.open = true;
}

void CountWx(void* ctx, VirtAddr, unsigned level, uint64_t e) {
  if ((e & pte::kWrite) != 0 && (e & pte::kNoExecute) == 0) *static_cast<uint64_t*>(ctx) += LevelSize(level);
}

}  // namespace

unsigned MmuDump(Mmu& mmu, PhysAddr table) {
  DumpState s = {};
  mmu.VisitLeaves(table, DumpLeaf, &s);
  PrintRun(s);
  return s.lines;
}

uint64_t WritableExecutableBytes(Mmu& mmu, PhysAddr table) {
  uint64_t bytes = 0;
  mmu.VisitLeaves(table, CountWx, &bytes);
  return bytes;
}

}  // namespace kmem::x86
