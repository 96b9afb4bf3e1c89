// xalloc against a reference model: the input is a stream of donations, allocations (plain, unzeroed,
// aligned and spanned) and frees; after every step the model checks that live blocks never overlap and
// all lie in donated memory, that each payload still holds what its owner wrote, that the span and
// alignment rules hold, that a failed Xalloc really had no hole big enough, and that bytes are
// conserved: free + live blocks (headers and pads included) + leaked = donated.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mm/base/addr.h"
#include "mm/xalloc/xalloc.h"
#include "testing/phys_arena.h"

namespace kmem {
namespace {

constexpr uint64_t kArenaBase = 0x100000;
constexpr uint64_t kSlot = 0x10000;  // donations come from 16 slots of 64 KiB, so they never overlap
constexpr int kSlots = 16;

struct Input {
  const uint8_t* data;
  size_t size;
  uint64_t Take(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes && size > 0; ++i, ++data, --size) v = v << 8 | *data;
    return v;
  }
};

struct Live {
  uint8_t* ptr;
  uint64_t size;
  uint8_t fill;
};

class Model {
 public:
  explicit Model(const DirectMap& map) : map_(map), heap_(map) {}

  void Donate(int slot, uint64_t offset, uint64_t size) {
    if (used_[slot]) return;
    PhysAddr base(kArenaBase + slot * kSlot + offset % kSlot);
    size = std::min(size, kArenaBase + (slot + 1) * kSlot - base.value());
    XholeStatus s = heap_.Xhole(base, size);
    uint64_t lo = AlignDown(base.value() + 15, 16), hi = AlignDown(base.value() + size, 16);
    if (hi <= lo || hi - lo < 48) {
      Check(s == XholeStatus::kTooSmall, "tiny donation not refused");
      return;
    }
    // Touching donations merge, so the table of donated ranges never fills with 16 slots.
    Check(s == XholeStatus::kOk || s == XholeStatus::kHoleTableFull, "donation refused");
    if (s != XholeStatus::kOk) return;
    used_[slot] = true;
    donated_.push_back(RamRange{PhysAddr(lo), hi - lo});
    donated_bytes_ += hi - lo;
  }

  void Alloc(uint64_t size, int kind, uint64_t align, uint64_t span) {
    void* p = nullptr;
    switch (kind) {
      case 0:
        p = heap_.Xalloc(size);
        break;
      case 1:
        p = heap_.Xallocz(size, Zero::kNo);
        break;
      default:
        p = heap_.Xspanalloc(size, align, span);
        break;
    }
    if (p == nullptr) {
      if (kind != 2) {
        for (size_t i = 0; i < heap_.HoleCount(); ++i) {
          // Size 0 is served as one byte (xalloc.h).
          Check(heap_.Hole(i).size < AlignUp16(std::max<uint64_t>(size, 1)) + HoleAllocator::kHeaderBytes,
                "Xalloc failed but a hole fits");
        }
      }
      return;
    }
    uint64_t pa = map_.Paddr(p).value();
    Check(IsAligned(pa, kind == 2 ? std::max<uint64_t>(align, 16) : 16), "misaligned");
    Check(kind != 2 || span == 0 || size == 0 || AlignDown(pa, span) == AlignDown(pa + size - 1, span),
          "crosses a span");
    auto* bytes = static_cast<uint8_t*>(p);
    if (kind != 1) Check(std::all_of(bytes, bytes + size, [](uint8_t b) { return b == 0; }), "not zeroed");
    uint8_t fill = static_cast<uint8_t>(++fills_);
    std::memset(p, fill, size);
    live_.push_back(Live{bytes, size, fill});
  }

  void Free(uint64_t pick) {
    if (live_.empty()) return;
    size_t i = pick % live_.size();
    CheckPayload(live_[i]);
    heap_.Xfree(live_[i].ptr);
    live_[i] = live_.back();
    live_.pop_back();
  }

  void CheckAll(bool deep) {
    std::vector<RamRange> blocks;
    uint64_t live_bytes = 0;
    for (const Live& l : live_) {
      if (deep) CheckPayload(l);
      XallocBlock b = heap_.Block(l.ptr);
      PhysAddr pa = map_.Paddr(l.ptr);
      Check(b.base <= pa - HoleAllocator::kHeaderBytes && pa + l.size <= b.base + b.size, "block misses payload");
      Check(InDonated(b.base, b.size), "block outside donated memory");
      blocks.push_back(RamRange{b.base, b.size});
      live_bytes += b.size;
    }
    uint64_t free_bytes = 0;
    for (size_t i = 0; i < heap_.HoleCount(); ++i) {
      RamRange h = heap_.Hole(i);
      Check(InDonated(h.base, h.size), "hole outside donated memory");
      blocks.push_back(h);
      free_bytes += h.size;
    }
    std::sort(blocks.begin(), blocks.end(), [](const RamRange& a, const RamRange& b) { return a.base < b.base; });
    for (size_t i = 1; i < blocks.size(); ++i) Check(blocks[i - 1].end() <= blocks[i].base, "blocks overlap");
    XallocStats s = heap_.Stats();
    Check(free_bytes + live_bytes + s.leaked == donated_bytes_, "bytes not conserved");
    Check(s.blocks == live_.size() && s.donated == donated_bytes_ && s.free == free_bytes, "stats disagree");
    if (deep) heap_.Validate();
  }

  void FreeAll() {
    while (!live_.empty()) Free(0);
    CheckAll(true);
  }

 private:
  static void CheckPayload(const Live& l) {
    Check(std::all_of(l.ptr, l.ptr + l.size, [&](uint8_t b) { return b == l.fill; }), "payload overwritten");
  }
  static uint64_t AlignUp16(uint64_t x) { return (x + 15) & ~uint64_t{15}; }
  static void Check(bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "xalloc_fuzz: %s\n", what);
      std::abort();
    }
  }
  bool InDonated(PhysAddr base, uint64_t size) const {
    // Touching donations merge into one hole or one block, so check against their union.
    uint64_t covered = 0;
    for (const RamRange& d : donated_) {
      uint64_t lo = std::max(d.base.value(), base.value()), hi = std::min(d.end().value(), base.value() + size);
      if (hi > lo) covered += hi - lo;
    }
    return covered == size;
  }

  const DirectMap& map_;
  HoleAllocator heap_;
  std::vector<RamRange> donated_;
  uint64_t donated_bytes_ = 0;
  std::vector<Live> live_;
  bool used_[kSlots] = {};
  unsigned fills_ = 0;
};

}  // namespace
}  // namespace kmem

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmem;
  static testing::PhysArena ram(PhysAddr(kArenaBase), kSlots * kSlot);
  Model model(ram.direct_map());
  Input in{data, size};
  model.Donate(0, 0, kSlot);
  int steps = 0;
  // A bounded stream keeps each input fast; libFuzzer explores longer histories through many inputs.
  while (in.size > 0 && steps < 300) {
    uint64_t op = in.Take(1);
    switch (op % 8) {
      case 0:
      case 1:
        model.Alloc(in.Take(2) % 9000, 0, 0, 0);
        break;
      case 2:
        model.Alloc(in.Take(1) * 16, 1, 0, 0);
        break;
      case 3: {
        uint64_t shape = in.Take(2);
        model.Alloc(in.Take(2) % 5000, 2, uint64_t{1} << (shape % 14), (shape >> 4) % 2 ? uint64_t{1} << (8 + (shape >> 5) % 8) : 0);
        break;
      }
      case 4:
      case 5:
      case 6:
        model.Free(in.Take(1));
        break;
      case 7: {
        uint64_t where = in.Take(1);
        model.Donate(where % kSlots, (where >> 4) * 16 * 97, in.Take(2) * 2);
        break;
      }
    }
    if (++steps % 4 == 0) model.CheckAll(steps % 16 == 0);
  }
  model.FreeAll();
  return 0;
}
