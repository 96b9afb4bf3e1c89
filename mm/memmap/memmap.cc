#include "mm/memmap/memmap.h"

#include "mm/base/format.h"

namespace kmem {
namespace {

// Appends [base, end) to out[*n], merging with the previous piece when they touch and agree. Returns false
// when out is full.
bool Emit(MemRange* out, size_t* n, uint64_t base, uint64_t end, MemType type, MemUse use) {
  if (base >= end) return true;
  if (*n > 0) {
    MemRange& last = out[*n - 1];
    if (last.end().value() == base && last.type == type && last.use == use) {
      last.size += end - base;
      return true;
    }
  }
  if (*n == Memmap::kCapacity) return false;
  out[(*n)++] = MemRange{PhysAddr(base), end - base, type, use};
  return true;
}

}  // namespace

const char* MemTypeName(MemType type) {
  switch (type) {
    case MemType::kUpa: return "UPA";
    case MemType::kUmb: return "UMB";
    case MemType::kRam: return "RAM";
    case MemType::kAcpi: return "ACPI";
    case MemType::kReserved: return "Reserved";
  }
  return "?";
}

const char* MemmapStatusName(MemmapStatus status) {
  switch (status) {
    case MemmapStatus::kOk: return "ok";
    case MemmapStatus::kFull: return "memory map full";
    case MemmapStatus::kOutOfRange: return "range empty, wrapping or beyond the physical limit";
    case MemmapStatus::kBadAlignment: return "bad alignment";
    case MemmapStatus::kNoSpace: return "no free range fits";
    case MemmapStatus::kNotAllocated: return "range is not allocated memory of that type";
  }
  return "?";
}

Memmap::Attr Memmap::Apply(Op op, MemType type, Attr old) {
  switch (op) {
    case Op::kAdd:
      if (!old.present || type > old.type) return Attr{true, type, MemUse::kFree};
      return old;
    case Op::kMarkAllocated: return Attr{true, old.type, MemUse::kAllocated};
    case Op::kMarkFree: return Attr{true, old.type, MemUse::kFree};
  }
  return old;
}

MemmapStatus Memmap::Rewrite(uint64_t base, uint64_t end, Op op, MemType type) {
  size_t n = 0;
  uint64_t cursor = base;  // [base, cursor) has been rewritten
  auto emit = [&](uint64_t b, uint64_t e, Attr a) { return !a.present || Emit(scratch_, &n, b, e, a.type, a.use); };
  for (size_t i = 0; i < count_; ++i) {
    const MemRange& x = entries_[i];
    const Attr old{true, x.type, x.use};
    // The hole of the map before x that lies inside [base, end).
    uint64_t hole_end = Min(x.base.value(), end);
    if (cursor < hole_end && !emit(cursor, hole_end, Apply(op, type, Attr{false, type, MemUse::kFree}))) {
      return MemmapStatus::kFull;
    }
    uint64_t lo = Max(x.base.value(), base);
    uint64_t hi = Min(x.end().value(), end);
    bool ok = lo >= hi ? emit(x.base.value(), x.end().value(), old)
                       : emit(x.base.value(), lo, old) && emit(lo, hi, Apply(op, type, old)) &&
                             emit(hi, x.end().value(), old);
    if (!ok) return MemmapStatus::kFull;
    cursor = Max(cursor, x.end().value());
  }
  if (cursor < end && !emit(cursor, end, Apply(op, type, Attr{false, type, MemUse::kFree}))) {
    return MemmapStatus::kFull;
  }
  for (size_t i = 0; i < n; ++i) entries_[i] = scratch_[i];
  count_ = n;
  return MemmapStatus::kOk;
}

MemmapStatus Memmap::Add(PhysAddr base, uint64_t size, MemType type) {
  LockGuard g(lock_);
  uint64_t b = base.value();
  if (size == 0 || b >= limit_ || size > limit_ - b) return MemmapStatus::kOutOfRange;
  uint64_t e = b + size;
  if (type == MemType::kRam) {
    // Only whole pages of RAM are usable; the limit is page-aligned, so rounding up cannot overflow.
    AlignUp(b, kPageSize, &b);
    e = AlignDown(e, kPageSize);
    if (b >= e) return MemmapStatus::kOk;
  } else {
    b = AlignDown(b, kPageSize);
    AlignUp(e, kPageSize, &e);
  }
  return Rewrite(b, e, Op::kAdd, type);
}

bool Memmap::Holds(uint64_t base, uint64_t end, MemType type, MemUse use) const {
  for (size_t i = 0; i < count_; ++i) {
    const MemRange& x = entries_[i];
    if (x.base.value() <= base && end <= x.end().value()) return x.type == type && x.use == use;
  }
  return false;
}

MemmapStatus Memmap::Alloc(uint64_t fixed, uint64_t size, uint64_t align, MemType type, PhysAddr* out) {
  if (!IsPowerOfTwo(align)) return MemmapStatus::kBadAlignment;
  align = Max(align, kPageSize);
  if (size == 0 || size > limit_) return MemmapStatus::kOutOfRange;
  AlignUp(size, kPageSize, &size);
  LockGuard g(lock_);
  uint64_t base = fixed;
  if (fixed != kAnyAddress) {
    if (!IsAligned(fixed, align)) return MemmapStatus::kBadAlignment;
    if (fixed >= limit_ || size > limit_ - fixed) return MemmapStatus::kOutOfRange;
    if (!Holds(fixed, fixed + size, type, MemUse::kFree)) return MemmapStatus::kNoSpace;
  } else {
    bool found = false;
    for (size_t i = 0; i < count_ && !found; ++i) {
      const MemRange& x = entries_[i];
      if (x.type != type || x.use != MemUse::kFree) continue;
      // Entries end at or below the limit, so neither the rounding nor base + size can overflow.
      found = AlignUp(x.base.value(), align, &base) && base < x.end().value() && size <= x.end().value() - base;
    }
    if (!found) return MemmapStatus::kNoSpace;
  }
  MemmapStatus s = Rewrite(base, base + size, Op::kMarkAllocated, type);
  if (s == MemmapStatus::kOk) *out = PhysAddr(base);
  return s;
}

MemmapStatus Memmap::Free(PhysAddr base, uint64_t size, MemType type) {
  uint64_t b = AlignDown(base.value(), kPageSize);
  if (size == 0 || b >= limit_ || size > limit_ - base.value()) return MemmapStatus::kOutOfRange;
  uint64_t e;
  AlignUp(base.value() + size, kPageSize, &e);
  LockGuard g(lock_);
  if (!Holds(b, e, type, MemUse::kAllocated)) return MemmapStatus::kNotAllocated;
  return Rewrite(b, e, Op::kMarkFree, type);
}

bool Memmap::Next(PhysAddr from, MemType type, MemRange* out) const {
  LockGuard g(lock_);
  for (size_t i = 0; i < count_; ++i) {
    const MemRange& x = entries_[i];
    if (x.end() > from && x.type == type && x.use == MemUse::kFree) {
      *out = x;
      return true;
    }
  }
  return false;
}

uint64_t Memmap::Size(MemType type, MemUse use) const {
  LockGuard g(lock_);
  return Total(type, use);
}

uint64_t Memmap::Total(MemType type, MemUse use) const {
  uint64_t total = 0;
  for (size_t i = 0; i < count_; ++i) {
    if (entries_[i].type == type && entries_[i].use == use) total += entries_[i].size;
  }
  return total;
}

void Memmap::Dump() const {
  LockGuard g(lock_);
  Print("memmap: base               end (exclusive)    type                  size\n");
  for (size_t i = 0; i < count_; ++i) {
    const MemRange& x = entries_[i];
    Print("  0x%016lx 0x%016lx %-8s %c %13lu KiB\n", x.base.value(), x.end().value(), MemTypeName(x.type),
          x.use == MemUse::kAllocated ? '*' : ' ', x.size >> 10);
  }
  uint64_t ram = Total(MemType::kRam, MemUse::kFree);
  Print("memmap: usable RAM %lu KiB (%lu pages), allocated %lu KiB (marked *)\n", ram >> 10, ram >> kPageShift,
        Total(MemType::kRam, MemUse::kAllocated) >> 10);
}

}  // namespace kmem
