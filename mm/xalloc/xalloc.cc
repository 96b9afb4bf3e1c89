#include "mm/xalloc/xalloc.h"

#include <stdarg.h>

#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem {
namespace {

// Each tag is XORed with the header's own physical address, so a copy of a header elsewhere, or payload
// bytes that happen to hold a tag, do not pass for a header at another address.
constexpr uint64_t kLiveTag = 0x58414c4c4f43424bULL;    // "XALLOCBK"
constexpr uint64_t kPadTag = 0x58414c4c4f435044ULL;     // "XALLOCPD"
constexpr uint64_t kLeakedTag = 0x58414c4c4f434c4bULL;  // "XALLOCLK"
constexpr uint64_t kCheckTag = 0x484f4c4548444352ULL;   // "HOLEHDCR"

}  // namespace


// One step of the walk between two holes: the tile starting at a given address.
struct HoleAllocator::Tile {
  enum class Kind { kBlock, kLeaked, kBad };
  Kind kind;
  PhysAddr base;    // kBlock/kLeaked: first byte (pad included); kBad: where the walk stopped
  PhysAddr header;  // kBlock/kLeaked: the block header; kBad: the header that failed its check
  uint64_t size;    // kBlock/kLeaked: bytes, pad and header included
};

const char* XholeStatusName(XholeStatus status) {
  switch (status) {
    case XholeStatus::kOk:
      return "ok";
    case XholeStatus::kTooSmall:
      return "too small";
    case XholeStatus::kOutsideDirectMap:
      return "outside the direct map";
    case XholeStatus::kOverlaps:
      return "overlaps memory already donated";
    case XholeStatus::kHoleTableFull:
      return "hole table full";
    case XholeStatus::kArenaTableFull:
      return "donated-range table full";
  }
  return "unknown";
}

namespace {

void Seal(void* at, PhysAddr pa, uint64_t tag, uint64_t size, uint64_t lead) {
  auto* h = static_cast<uint64_t*>(at);
  h[0] = tag ^ pa.value();
  h[1] = size;
  h[2] = lead;
  h[3] = h[0] ^ size ^ lead ^ kCheckTag;
}

}  // namespace

HoleAllocator::Header* HoleAllocator::HeaderAt(PhysAddr pa) const { return map_.Kaddr<Header>(pa); }

XholeStatus HoleAllocator::Xinit(const RamRange* ranges, size_t n) {
  LockGuard g(lock_);
  ready_ = true;
  for (size_t i = 0; i < n; ++i) {
    XholeStatus s = AddHole(ranges[i].base, ranges[i].size);
    if (s != XholeStatus::kOk) return s;
  }
  return XholeStatus::kOk;
}

XholeStatus HoleAllocator::Xhole(PhysAddr base, uint64_t size) {
  LockGuard g(lock_);
  return AddHole(base, size);
}

XholeStatus HoleAllocator::AddHole(PhysAddr base, uint64_t size) {
  if (size > UINT64_MAX - base.value()) return XholeStatus::kOutsideDirectMap;
  uint64_t lo = 0;
  if (!AlignUp(base.value(), kMinAlign, &lo)) return XholeStatus::kTooSmall;
  uint64_t hi = AlignDown(base.value() + size, kMinAlign);
  // Anything smaller than a header and one payload unit could never be handed out.
  if (hi <= lo || hi - lo < kHeaderBytes + kMinAlign) return XholeStatus::kTooSmall;
  RamRange r{PhysAddr(lo), hi - lo};
  if (!map_.Covers(r.base, r.size)) return XholeStatus::kOutsideDirectMap;
  switch (arenas_.Check(r)) {
    case RangeAdd::kOverlaps:
      return XholeStatus::kOverlaps;
    case RangeAdd::kFull:
      return XholeStatus::kArenaTableFull;
    case RangeAdd::kOk:
      break;
  }
  // Holes lie inside donated ranges, so a range that overlaps none of those cannot overlap a hole.
  if (holes_.Check(r) != RangeAdd::kOk) return XholeStatus::kHoleTableFull;
  arenas_.Add(r);
  holes_.Add(r);
  donated_ += r.size;
  free_ += r.size;
  return XholeStatus::kOk;
}

// Places a block at the bottom of hole `hole`: the payload at the first address past one header that is
// aligned and keeps [payload, payload + size) inside one span. The pad below the header, if any, is at
// least one header long so it can carry its marker. Taking from the bottom never needs a new hole slot.
bool HoleAllocator::Carve(size_t hole, uint64_t size, uint64_t align, uint64_t span, PhysAddr* data) {
  if (size == 0) size = 1;  // the contract in xalloc.h: a zero-size block still holds a payload unit
  const uint64_t hs = holes_[hole].base.value();
  const uint64_t he = holes_[hole].end().value();
  uint64_t d = 0, lead = 0;
  // A lead between 0 and one header is too short for a marker: the second pass starts one header higher,
  // which makes the lead at least a header (span alignment only moves the payload further up).
  for (uint64_t extra = 0; extra <= kHeaderBytes; extra += kHeaderBytes) {
    if (hs > UINT64_MAX - kHeaderBytes - extra || !AlignUp(hs + kHeaderBytes + extra, align, &d)) return false;
    if (span != 0) {
      if (d > UINT64_MAX - (size - 1)) return false;
      if (AlignDown(d, span) != AlignDown(d + size - 1, span) && !AlignUp(d, span, &d)) return false;
    }
    lead = d - kHeaderBytes - hs;
    if (lead == 0 || lead >= kHeaderBytes) break;
  }
  uint64_t end = 0;
  if (d > UINT64_MAX - size || !AlignUp(d + size, kMinAlign, &end) || end > he) return false;
  PhysAddr h(d - kHeaderBytes);
  if (lead != 0) Seal(HeaderAt(PhysAddr(hs)), PhysAddr(hs), kPadTag, lead, 0);
  Seal(HeaderAt(h), h, kLiveTag, end - h.value(), lead);
  holes_.TakeBottom(hole, end - hs);
  free_ -= end - hs;
  allocated_ += end - hs;
  headers_ += lead != 0 ? 2 * kHeaderBytes : kHeaderBytes;
  ++blocks_;
  *data = PhysAddr(d);
  return true;
}

// First fit in address order; the block is zeroed unless `zero` says not to.
void* HoleAllocator::FirstFit(uint64_t size, uint64_t align, uint64_t span, Zero zero) {
  for (size_t i = 0; i < holes_.count(); ++i) {
    PhysAddr d;
    if (!Carve(i, size, align, span, &d)) continue;
    void* p = map_.Kaddr(d);
    if (zero == Zero::kYes) __builtin_memset(p, 0, size);
    return p;
  }
  return nullptr;
}

void* HoleAllocator::Xallocz(uint64_t size, Zero zero) {
  LockGuard g(lock_);
  return FirstFit(size, kMinAlign, 0, zero);
}

void* HoleAllocator::Xspanalloc(uint64_t size, uint64_t align, uint64_t span) {
  if (align < kMinAlign) align = kMinAlign;
  KASSERT(IsPowerOfTwo(align), "xspanalloc: align 0x%lx is not a power of two", align);
  KASSERT(span == 0 || IsPowerOfTwo(span), "xspanalloc: span 0x%lx is not a power of two", span);
  if (span != 0 && size > span) return nullptr;
  LockGuard g(lock_);
  return FirstFit(size, align, span, Zero::kYes);
}

// The bytes between the hole (or donated-range start) below `pa` and the hole (or range end) above it;
// `pa` lies in a donated range and in no hole.
RamRange HoleAllocator::GapAround(PhysAddr pa) const {
  const RamRange& arena = arenas_[arenas_.Find(pa)];
  PhysAddr lo = arena.base, hi = arena.end();
  size_t i = holes_.UpperBound(pa);
  if (i > 0 && holes_[i - 1].end() > lo) lo = holes_[i - 1].end();
  if (i < holes_.count() && holes_[i].base < hi) hi = holes_[i].base;
  return RamRange{lo, hi - lo};
}

HoleAllocator::Tile HoleAllocator::TileAt(PhysAddr p, PhysAddr gap_end) const {
  auto valid = [&](PhysAddr at, uint64_t tag) {
    if (gap_end - at < kHeaderBytes) return false;
    const Header& h = *HeaderAt(at);
    return h.magic == (tag ^ at.value()) && h.check == (h.magic ^ h.size ^ h.lead ^ kCheckTag);
  };
  Tile bad{Tile::Kind::kBad, p, p, 0};
  if (p >= gap_end) return bad;
  PhysAddr h = p;
  uint64_t lead = 0;
  if (valid(p, kPadTag)) {
    lead = HeaderAt(p)->size;
    if (lead < kHeaderBytes || lead > gap_end - p) return bad;
    h = p + lead;
  }
  bad.header = h;
  Tile::Kind kind;
  if (valid(h, kLiveTag)) {
    kind = Tile::Kind::kBlock;
  } else if (valid(h, kLeakedTag)) {
    kind = Tile::Kind::kLeaked;
  } else {
    return bad;
  }
  const Header& hd = *HeaderAt(h);
  if (hd.lead != lead || hd.size < kHeaderBytes || !IsAligned(hd.size, kMinAlign) || hd.size > gap_end - h) {
    return bad;
  }
  return Tile{kind, p, h, lead + hd.size};
}

void HoleAllocator::Corrupt(const char* verb, const void* ptr, const char* fmt, ...) const {
  char why[200];
  va_list ap;
  va_start(ap, fmt);
  VFormatTo(why, sizeof why, fmt, ap);
  va_end(ap);
  Summary();
  Panic("%s(%p): %s", verb, ptr, why);
}

// The header of the live block `ptr` points at, or a panic saying what `ptr` is instead.
PhysAddr HoleAllocator::CheckedHeader(const void* ptr, const char* verb) const {
  uintptr_t v = reinterpret_cast<uintptr_t>(ptr);
  uintptr_t window = map_.size() == 0 ? 0 : reinterpret_cast<uintptr_t>(map_.Kaddr(map_.phys_base()));
  if (map_.size() == 0 || v < window || v - window >= map_.size()) {
    Corrupt(verb, ptr, "foreign pointer: not in the direct map");
  }
  PhysAddr pa = map_.Paddr(ptr);
  if (pa.value() < kHeaderBytes || arenas_.Find(pa - kHeaderBytes) == arenas_.count()) {
    Corrupt(verb, ptr, "foreign pointer: pa 0x%lx is not in memory given to xalloc", pa.value());
  }
  PhysAddr h = pa - kHeaderBytes;
  size_t hole = holes_.Find(h);
  if (hole != holes_.count()) {
    Corrupt(verb, ptr, "double free: pa 0x%lx is in the free hole [0x%lx, 0x%lx)", pa.value(),
            holes_[hole].base.value(), holes_[hole].end().value());
  }
  RamRange gap = GapAround(h);
  // The common case costs one header check (and one for the pad marker): the walk is for diagnosis.
  if (pa.IsAlignedTo(kMinAlign) && gap.end() - h >= kHeaderBytes) {
    const Header& hd = *HeaderAt(h);
    PhysAddr base = h - hd.lead;
    if (hd.lead <= h - gap.base) {
      Tile t = TileAt(base, gap.end());
      if (t.kind == Tile::Kind::kBlock && t.header == h) return h;
    }
  }
  for (PhysAddr p = gap.base;;) {
    Tile t = TileAt(p, gap.end());
    if (t.kind == Tile::Kind::kBad) {
      if (gap.end() - t.header < kHeaderBytes) {
        Corrupt(verb, ptr, "the blocks below end in a fragment at pa 0x%lx, too short for a header: heap overwritten",
                t.header.value());
      }
      const Header& hd = *HeaderAt(t.header);
      const char* whose = t.header == h ? "its header" : "the block header below it";
      if (hd.magic == (kLiveTag ^ t.header.value())) {
        Corrupt(verb, ptr, "corrupt size 0x%lx or lead 0x%lx in %s at pa 0x%lx: heap overwritten", hd.size,
                hd.lead, whose, t.header.value());
      }
      Corrupt(verb, ptr, "wrong magic 0x%lx in %s at pa 0x%lx (expected 0x%lx)", hd.magic, whose,
              t.header.value(), kLiveTag ^ t.header.value());
    }
    if (t.kind == Tile::Kind::kLeaked && t.header == h) {
      Corrupt(verb, ptr, "double free: the block at pa 0x%lx was freed (and leaked, the hole table was full)",
              t.base.value());
    }
    if (h < t.base + t.size) {
      Corrupt(verb, ptr, "pointer into the middle of the block at pa 0x%lx (0x%lx bytes)", t.base.value(),
              t.size);
    }
    p = t.base + t.size;
  }
}

// An overflow out of the block at `h` lands in the header of the tile right above it: Xfree checks that
// header too, so the overflow is caught while its culprit is known rather than at the next Validate. The
// tile above is a block (possibly behind its pad marker) or a leaked block; a hole or the end of the
// donated range keeps no header.
void HoleAllocator::CheckTileAbove(const void* ptr, PhysAddr h, const char* verb) const {
  PhysAddr above = h + HeaderAt(h)->size;
  RamRange gap = GapAround(h);
  if (above == gap.end()) return;
  Tile t = TileAt(above, gap.end());
  if (t.kind != Tile::Kind::kBad) return;
  // Tiles are at least a header long, so a fragment shorter than one is itself the damage.
  uint64_t magic = gap.end() - t.header >= kHeaderBytes ? HeaderAt(t.header)->magic : 0;
  Corrupt(verb, ptr, "header at pa 0x%lx of the tile above smashed (magic 0x%lx): the block overflowed",
          t.header.value(), magic);
}

void HoleAllocator::Xfree(void* ptr) {
  LockGuard g(lock_);
  PhysAddr h = CheckedHeader(ptr, "xfree");
  CheckTileAbove(ptr, h, "xfree");
  Header& hd = *HeaderAt(h);
  RamRange r{h - hd.lead, hd.lead + hd.size};
  allocated_ -= r.size;
  headers_ -= hd.lead != 0 ? 2 * kHeaderBytes : kHeaderBytes;
  --blocks_;
  RangeAdd added = holes_.Add(r);
  KASSERT(added != RangeAdd::kOverlaps, "xfree: block [0x%lx, +0x%lx) overlaps a hole", r.base.value(), r.size);
  if (added == RangeAdd::kOk) {
    free_ += r.size;
    return;
  }
  // No slot for a new hole: the block stays in place as a leaked tile, which keeps the walk intact.
  Seal(&hd, h, kLeakedTag, hd.size, hd.lead);
  leaked_ += r.size;
  Print("xfree: hole table full (%zu holes), leaked 0x%lx bytes at pa 0x%lx\n", holes_.count(), r.size,
        r.base.value());
}

XallocBlock HoleAllocator::Block(const void* ptr) const {
  LockGuard g(lock_);
  PhysAddr h = CheckedHeader(ptr, "xalloc block");
  const Header& hd = *HeaderAt(h);
  return XallocBlock{h - hd.lead, hd.lead + hd.size};
}

void HoleAllocator::SetEarlyPageSource(EarlyPageSource source) {
  LockGuard g(lock_);
  early_ = source;
}

// The early source is asked without xalloc's lock: it is the memory map, whose lock is at xalloc's level.
void* HoleAllocator::Rampage() {
  EarlyPageSource early;
  {
    LockGuard g(lock_);
    if (ready_) return FirstFit(kPageSize, kPageSize, 0, Zero::kYes);
    early = early_;
  }
  PhysAddr pa;
  if (early.take == nullptr || !early.take(early.ctx, &pa)) return nullptr;
  KASSERT(pa.IsAlignedTo(kPageSize) && map_.Covers(pa, kPageSize),
          "rampage: early page pa 0x%lx is unaligned or outside the direct map", pa.value());
  void* p = map_.Kaddr(pa);
  __builtin_memset(p, 0, kPageSize);
  return p;
}

XallocStats HoleAllocator::Stats() const {
  LockGuard g(lock_);
  return XallocStats{donated_, free_, allocated_, headers_, blocks_, leaked_, holes_.count()};
}

size_t HoleAllocator::HoleCount() const {
  LockGuard g(lock_);
  return holes_.count();
}

RamRange HoleAllocator::Hole(size_t i) const {
  LockGuard g(lock_);
  return holes_[i];
}

void HoleAllocator::Xsummary() const {
  LockGuard g(lock_);
  Summary();
}

void HoleAllocator::Summary() const {
  Print("xalloc: %zu holes (max %zu), %lu KiB free, %lu KiB in %lu blocks, %lu KiB leaked, %lu KiB donated\n",
        holes_.count(), kMaxHoles, free_ >> 10, allocated_ >> 10, blocks_, leaked_ >> 10, donated_ >> 10);
  for (size_t i = 0; i < holes_.count(); ++i) {
    Print("  hole 0x%016lx 0x%016lx %lu KiB\n", holes_[i].base.value(), holes_[i].end().value(),
          holes_[i].size >> 10);
  }
}

void HoleAllocator::Validate() const {
  LockGuard g(lock_);
  uint64_t free = 0, allocated = 0, headers = 0, blocks = 0, leaked = 0, donated = 0;
  for (size_t i = 0; i < holes_.count(); ++i) {
    const RamRange& r = holes_[i];
    size_t a = arenas_.Find(r.base);
    KASSERT(a != arenas_.count() && r.end() <= arenas_[a].end(), "hole [0x%lx, 0x%lx) is not inside donated memory",
            r.base.value(), r.end().value());
    KASSERT(i == 0 || holes_[i - 1].end() < r.base, "holes %zu and %zu touch or overlap: not coalesced", i - 1, i);
    free += r.size;
  }
  for (size_t a = 0; a < arenas_.count(); ++a) {
    donated += arenas_[a].size;
    for (PhysAddr p = arenas_[a].base; p < arenas_[a].end();) {
      size_t hole = holes_.Find(p);
      if (hole != holes_.count()) {
        p = holes_[hole].end();
        continue;
      }
      RamRange gap = GapAround(p);
      Tile t = TileAt(p, gap.end());
      KASSERT(t.kind != Tile::Kind::kBad, "bad block header at pa 0x%lx in the blocks [0x%lx, 0x%lx)",
              t.header.value(), gap.base.value(), gap.end().value());
      if (t.kind == Tile::Kind::kLeaked) {
        leaked += t.size;
      } else {
        allocated += t.size;
        headers += t.header != t.base ? 2 * kHeaderBytes : kHeaderBytes;
        ++blocks;
      }
      p = t.base + t.size;
    }
  }
  KASSERT(free == free_ && allocated == allocated_ && headers == headers_ && blocks == blocks_ &&
              leaked == leaked_ && donated == donated_,
          "counters: free 0x%lx/0x%lx allocated 0x%lx/0x%lx headers 0x%lx/0x%lx blocks %lu/%lu leaked "
          "0x%lx/0x%lx donated 0x%lx/0x%lx (walked/kept)",
          free, free_, allocated, allocated_, headers, headers_, blocks, blocks_, leaked, leaked_, donated,
          donated_);
  KASSERT(free + allocated + leaked == donated, "free 0x%lx + allocated 0x%lx + leaked 0x%lx != donated 0x%lx",
          free, allocated, leaked, donated);
}

}  // namespace kmem
