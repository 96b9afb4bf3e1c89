// Address vocabulary shared by every mm/ component and the architecture code: strong types for physical
// and virtual addresses and page-frame numbers, the power-of-two alignment helpers, Min and Max.
//
// A PhysAddr and a VirtAddr are different types so that one can never be passed where the other is meant;
// conversions between them are named functions owned by the architecture (or the host fake), never casts.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kmem {

inline constexpr unsigned kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
// Page colours are pfn mod the colour count, a power of two. The count comes from the cache geometry (the
// architecture's CPU identification) and bounds the page allocator's per-colour lists; 1024 covers a
// 64 MiB, 16-way last-level cache, and a larger count is clamped (colouring then spreads over 1024 sets of
// cache sets, still correct, only coarser).
inline constexpr unsigned kMaxColours = 1024;

constexpr bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// The smaller and the larger of two byte counts, or of two addresses in one space.
template <typename T>
constexpr T Min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
constexpr T Max(T a, T b) {
  return a < b ? b : a;
}

// `align` must be a power of two for all three helpers.
constexpr uint64_t AlignDown(uint64_t x, uint64_t align) { return x & ~(align - 1); }
constexpr bool IsAligned(uint64_t x, uint64_t align) { return (x & (align - 1)) == 0; }

// Rounds x up to `align`. Returns false, leaving *out untouched, when the result does not fit in 64 bits;
// callers near the top of the address space must handle that instead of silently wrapping to 0.
constexpr bool AlignUp(uint64_t x, uint64_t align, uint64_t* out) {
  uint64_t down = AlignDown(x, align);
  if (down == x) {
    *out = x;
    return true;
  }
  if (down > UINT64_MAX - align) return false;
  *out = down + align;
  return true;
}

// An address in one address space, tagged so that spaces cannot mix. Arithmetic with byte offsets stays in
// the same space; the difference of two addresses is a byte count.
template <typename Space>
class Address {
 public:
  constexpr Address() = default;
  constexpr explicit Address(uint64_t value) : value_(value) {}

  constexpr uint64_t value() const { return value_; }
  constexpr Address operator+(uint64_t bytes) const { return Address(value_ + bytes); }
  constexpr Address operator-(uint64_t bytes) const { return Address(value_ - bytes); }
  constexpr uint64_t operator-(Address other) const { return value_ - other.value_; }
  constexpr Address AlignedDown(uint64_t align) const { return Address(AlignDown(value_, align)); }
  constexpr bool IsAlignedTo(uint64_t align) const { return IsAligned(value_, align); }

  friend constexpr bool operator==(Address a, Address b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(Address a, Address b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(Address a, Address b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(Address a, Address b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>(Address a, Address b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(Address a, Address b) { return a.value_ >= b.value_; }

 private:
  uint64_t value_ = 0;
};

struct PhysSpace;
struct VirtSpace;
using PhysAddr = Address<PhysSpace>;
using VirtAddr = Address<VirtSpace>;

static_assert(sizeof(PhysAddr) == 8 && sizeof(VirtAddr) == 8, "addresses are one machine word");

// A physical page-frame number: PhysAddr / kPageSize. A third type, so a frame index is never mistaken for
// a byte address.
class Pfn {
 public:
  constexpr Pfn() = default;
  constexpr explicit Pfn(uint64_t number) : number_(number) {}

  // The frame that contains `pa`.
  static constexpr Pfn Containing(PhysAddr pa) { return Pfn(pa.value() >> kPageShift); }

  constexpr uint64_t number() const { return number_; }
  constexpr PhysAddr addr() const { return PhysAddr(number_ << kPageShift); }
  constexpr Pfn operator+(uint64_t n) const { return Pfn(number_ + n); }
  constexpr uint64_t operator-(Pfn other) const { return number_ - other.number_; }

  friend constexpr bool operator==(Pfn a, Pfn b) { return a.number_ == b.number_; }
  friend constexpr bool operator!=(Pfn a, Pfn b) { return a.number_ != b.number_; }
  friend constexpr bool operator<(Pfn a, Pfn b) { return a.number_ < b.number_; }
  friend constexpr bool operator<=(Pfn a, Pfn b) { return a.number_ <= b.number_; }

 private:
  uint64_t number_ = 0;
};

}  // namespace kmem
