// A randomized operation stream over a pool, Kmalloc and a slab cache, checked against a reference model:
// the model knows every live block's size and contents, and after each operation the allocators'
// statistics must match it; every few operations full walks check every internal invariant. The input's
// bytes choose the operations, slots and sizes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mm/pool/pool.h"
#include "mm/pool/slab.h"
#include "testing/pool_host.h"

namespace kmem::pool {
namespace {

constexpr uint64_t kLimit = 256 << 10;
constexpr uint64_t kQuantum = 16 << 10;
constexpr size_t kSlots = 64;

enum class Kind { kEmpty, kPool, kKmalloc, kCache };

struct Live {
  Kind kind = Kind::kEmpty;
  uint8_t* p = nullptr;
  size_t size = 0;
  uint8_t tag = 0;
};

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t Word() { return Byte() | uint32_t{Byte()} << 8; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "kmem_fuzz: model mismatch: %s\n", what);
    std::abort();
  }
}

bool AllBytes(const uint8_t* p, size_t from, size_t to, uint8_t b) {
  return std::all_of(p + from, p + to, [b](uint8_t x) { return x == b; });
}

class Model {
 public:
  Model(Pool& pool, KmemCache* cache, FreeFill fill) : pool_(pool), cache_(cache), fill_(fill) {}

  void Step(Input& in) {
    uint8_t op = in.Byte() % 8;
    Live& s = slots_[in.Byte() % kSlots];
    if (op == 7) return Reset();
    if (s.kind == Kind::kEmpty) {
      if (op < 3) return PoolAllocate(s, in);
      if (op < 5) return KmallocAllocate(s, in);
      return CacheAllocate(s, in);
    }
    if (op == 0 && s.kind == Kind::kPool) return Resize(s, in);
    Release(s);
  }

  void VerifyCounters() {
    uint64_t counts[4] = {}, bytes[4] = {};
    for (const Live& s : slots_) {
      ++counts[static_cast<int>(s.kind)];
      bytes[static_cast<int>(s.kind)] += s.kind == Kind::kKmalloc ? KmallocSize(s.p) : s.size;
    }
    AllocStats p = PoolStatsOf(pool_), k = KmallocStats(), c = KmemCacheStats(cache_);
    Check(p.live_blocks == counts[1] && p.live_bytes == bytes[1], "pool counters");
    Check(k.live_blocks == counts[2] && k.live_bytes == bytes[2], "kmalloc counters");
    Check(c.live_blocks == counts[3] && c.live_bytes == bytes[3], "cache counters");
    Check(PoolGrown(pool_) <= kLimit, "pool past its limit");
  }

  void ReleaseAll() {
    for (Live& s : slots_) {
      if (s.kind != Kind::kEmpty) Release(s);
    }
  }

 private:
  void Fresh(Live& s, Kind kind, void* p, size_t size, Zero zero) {
    s = {kind, static_cast<uint8_t*>(p), size, ++next_tag_};
    if (zero == Zero::kYes) Check(AllBytes(s.p, 0, size, 0), "zeroed allocation is not zero");
    std::memset(s.p, s.tag, size);
  }

  void PoolAllocate(Live& s, Input& in) {
    size_t size = in.Word() * (in.Byte() % 4 == 0 ? 16 : 1);
    Zero zero = in.Byte() % 2 == 0 ? Zero::kYes : Zero::kNo;
    PoolAllocation a = PoolAlloc(pool_, size, zero);
    if (a.p != nullptr) return Fresh(s, Kind::kPool, a.p, size, zero);
    // Too large means the block and its arena's bookkeeping round up past the limit.
    if (a.status == PoolStatus::kTooLarge) return Check(size + kQuantum + 128 > kLimit, "too large below the limit");
    Check(a.status == PoolStatus::kOverLimit, "unexpected refusal");
    // Growing needs an arena of whole quanta around the block; refusal means that did not fit.
    Check(size + 2 * kQuantum > kLimit - PoolGrown(pool_), "refused with room to grow");
  }

  void KmallocAllocate(Live& s, Input& in) {
    size_t size = in.Word() % (kKmallocMax + 64);
    Zero zero = in.Byte() % 2 == 0 ? Zero::kYes : Zero::kNo;
    void* p = Kmalloc(size, zero);
    Check((p == nullptr) == (size > kKmallocMax), "kmalloc refusal");
    if (p != nullptr) Fresh(s, Kind::kKmalloc, p, size, zero);
  }

  void CacheAllocate(Live& s, Input& in) {
    Zero zero = in.Byte() % 2 == 0 ? Zero::kYes : Zero::kNo;
    void* p = KmemCacheAlloc(cache_, zero);
    Check(p != nullptr, "cache allocation failed");
    Fresh(s, Kind::kCache, p, KmemCacheStats(cache_).live_bytes / KmemCacheStats(cache_).live_blocks, zero);
  }

  void Resize(Live& s, Input& in) {
    size_t size = in.Word();
    Check(AllBytes(s.p, 0, s.size, s.tag), "pool block contents changed");
    void* q = PoolRealloc(pool_, s.p, size);
    if (size == 0) {
      Check(q == nullptr, "realloc to 0 returned a block");
      s = {};
      return;
    }
    if (q == nullptr) return;  // refused: the old block stays as it was
    auto* b = static_cast<uint8_t*>(q);
    Check(AllBytes(b, 0, std::min(size, s.size), s.tag), "realloc lost contents");
    s.p = b;
    s.size = size;
    std::memset(b, s.tag, size);
  }

  void Release(Live& s) {
    Check(AllBytes(s.p, 0, s.size, s.tag), "block contents changed while live");
    if (s.kind == Kind::kPool) {
      PoolFree(pool_, s.p);
      if (fill_ == FreeFill::kZero) Check(AllBytes(s.p, 16, s.size, 0), "secret left behind by free");
    } else if (s.kind == Kind::kKmalloc) {
      Kfree(s.p);
    } else {
      KmemCacheFree(cache_, s.p);
    }
    s = {};
  }

  void Reset() {
    Poolreset(pool_);
    for (Live& s : slots_) {
      if (s.kind != Kind::kPool) continue;
      if (fill_ == FreeFill::kZero) Check(AllBytes(s.p, 16, s.size, 0), "secret left behind by Poolreset");
      s = {};
    }
  }

  Pool& pool_;
  KmemCache* cache_;
  FreeFill fill_;
  Live slots_[kSlots];
  uint8_t next_tag_ = 0;
};

}  // namespace
}  // namespace kmem::pool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmem::pool;
  Input in(data, size);
  kmem::testing::HeapSource heap;
  FreeFill fill = in.Byte() % 2 == 0 ? FreeFill::kPoison : FreeFill::kZero;
  Pool pool;
  PoolInit(pool, {"fuzz", kLimit, kQuantum, fill, heap.source(), {}});
  KmemInit(in.Byte() % 4 == 0 ? heap.source_without_give() : heap.source());
  KmemCache* cache = KmemCacheCreate("fuzz-obj", 1 + in.Word() % 2048, size_t{1} << (in.Byte() % 8));
  Model model(pool, cache, fill);
  for (int op = 0; !in.done(); ++op) {
    model.Step(in);
    model.VerifyCounters();
    if (op % 64 == 0) {
      PoolCheck(pool);
      KmemCheckAll();
    }
  }
  model.ReleaseAll();
  model.VerifyCounters();
  PoolCheck(pool);
  KmemCheckAll();
  if (!KmemCacheDestroy(cache)) std::abort();
  return 0;
}
