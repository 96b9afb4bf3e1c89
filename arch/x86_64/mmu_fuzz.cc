// A randomized stream of Pmap / Punmap / Protect calls on a 2 GiB window (kernel or user half) against a
// reference model, a dictionary from 4 KiB page to (pa, attributes):
//   - every call's status is the one the model predicts, and a failed Pmap changes nothing;
//   - Translate agrees with the model at the edges of each call and at random pages; at the end of the
//     stream every leaf of the table agrees with the model page by page and the leaves cover exactly the
//     pages the model maps;
//   - the flushes are exact: each changed page is covered by an invlpg inside the leaf that mapped it (or
//     a full flush), no invlpg lands outside such a leaf, and a successful Pmap flushes nothing;
//   - a Pmap whose physical range ends past the MMU's physical limit (64 GiB here) is kBadPhysAddr;
//   - through a user space, a kernel-half change is kWrongHalf and leaves no trace;
//   - in the kernel's table, Kmap gives each page a KMAP slot no other held page has, Kunmap frees it;
//   - after unmapping everything, every page-table page is back (in the pool or the allocator).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "arch/x86_64/mmu.h"
#include "testing/fake_cpu.h"
#include "testing/phys_arena.h"
#include "testing/pt_pages.h"

namespace kmem::x86 {
namespace {

using testing::FakeCpu;

constexpr uint64_t kWindow = 2 * k1G;
constexpr uint64_t kPages = kWindow / kPageSize;
constexpr uint64_t kKernelBase = kDirectMap + 4 * k1G;
constexpr uint64_t kUserBase = 3 * k1G;
// Pmap's physical addresses run to 1 GiB past it, Kmap's to one page past it.
constexpr uint64_t kPhysLimit = uint64_t{1} << 36;
// Model entry: 0 for unmapped, else pa | attrs << 1 | 1 (pa is page-aligned, attrs fit in 5 bits).
using Entry = uint64_t;

Entry Make(uint64_t pa, Attr attrs) { return pa | static_cast<uint64_t>(attrs) << 1 | 1; }

#define CHECK(cond, ...)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check '%s' failed: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

class Harness {
 public:
  // `model` has kPages entries, all zero; Finish leaves it so again (it is reused: clearing 4 MiB per input
  // would dominate the run).
  Harness(testing::PhysArena& arena, bool user, std::vector<Entry>& model)
      : pages_(arena), mmu_(arena.direct_map(), pages_, cpu_), user_(user), base_(user ? kUserBase : kKernelBase),
        model_(model) {
    CHECK(mmu_.Init(Mmu::GiantPages::kYes, PhysAddr(kPhysLimit)) == MmuStatus::kOk, "init");
    table_ = mmu_.kernel_table();
    if (user_) {
      CHECK(mmu_.NewAddressSpace(&table_) == MmuStatus::kOk, "new space");
      mmu_.MmuSwitch(table_);
    }
    baseline_ = mmu_.table_pages();
    cpu_.Take();
  }

  void Check(uint64_t page) {
    const VirtAddr va(base_ + page * kPageSize + 0x123);
    Translation t = mmu_.Translate(table_, va);
    const Entry e = model_[page];
    if (e == 0) {
      CHECK(t.status == MmuStatus::kNotMapped, "page 0x%lx is mapped, the model says not", va.value());
      return;
    }
    CHECK(t.status == MmuStatus::kOk, "page 0x%lx is not mapped, the model says 0x%lx", va.value(), e);
    CHECK(t.pa.value() == (e & ~uint64_t{0xfff}) + 0x123, "page 0x%lx maps 0x%lx, the model says 0x%lx", va.value(),
          t.pa.value(), e);
    CHECK(Make(0, t.attrs) == (e & 0xfff), "page 0x%lx attrs %x, the model says 0x%lx", va.value(),
          static_cast<unsigned>(t.attrs), e);
  }

  Attr RandomAttrs(FuzzedDataProvider& in) {
    const uint8_t b = in.ConsumeIntegral<uint8_t>();
    Attr a = user_ ? Attr::kUser : Attr::kGlobal;
    if (b & 1) a = a | Attr::kWrite;
    if (b & 2) a = a | Attr::kExec;
    if (!user_ && (b & 4)) {
      a = a | Attr::kUncached;
    } else if (!user_ && (b & 8)) {
      a = a | Attr::kWriteCombining;
    }
    return a;
  }

  // The kernel half's counts live in the kernel's table only, so a user space must refuse to change it.
  void KernelHalfThroughUser(FuzzedDataProvider& in) {
    const VirtAddr va(kKernelBase + in.ConsumeIntegralInRange<uint64_t>(0, kPages - 1) * kPageSize);
    const Attr attrs = Attr::kWrite | Attr::kGlobal;
    const uint64_t tables = mmu_.table_pages();
    const uint8_t op = in.ConsumeIntegralInRange<uint8_t>(0, 2);
    const MmuStatus s = op == 0   ? mmu_.Pmap(table_, PhysAddr(0), va, kPageSize, attrs)
                        : op == 1 ? mmu_.Punmap(table_, va, kPageSize)
                                  : mmu_.Protect(table_, va, kPageSize, attrs);
    CHECK(s == MmuStatus::kWrongHalf, "op %u on kernel 0x%lx through a user space: %s", op, va.value(), MmuStatusName(s));
    CHECK(mmu_.table_pages() == tables && cpu_.Events().empty(), "a refused kernel-half change left a trace");
  }

  // Kmap never hands out a slot that is held; every held slot keeps its page.
  void KmapStep(FuzzedDataProvider& in) {
    if (!kmaps_.empty() && in.ConsumeBool()) {
      const size_t i = in.ConsumeIntegralInRange<size_t>(0, kmaps_.size() - 1);
      mmu_.Kunmap(kmaps_[i].va);
      CHECK(mmu_.Translate(table_, kmaps_[i].va).status == MmuStatus::kNotMapped, "Kunmap left 0x%lx mapped",
            kmaps_[i].va.value());
      kmaps_[i] = kmaps_.back();
      kmaps_.pop_back();
    } else {
      const PhysAddr page(in.ConsumeIntegralInRange<uint64_t>(0, kPhysLimit / kPageSize) * kPageSize);
      const bool starve = in.ConsumeIntegralInRange<uint8_t>(0, 7) == 0;
      if (starve) pages_.set_budget(in.ConsumeIntegralInRange<long>(0, 1));
      VirtAddr va;
      const MmuStatus s = mmu_.Kmap(page, &va);
      pages_.set_budget(-1);
      if (page.value() >= kPhysLimit) {
        CHECK(s == MmuStatus::kBadPhysAddr, "Kmap of 0x%lx past the limit: %s", page.value(), MmuStatusName(s));
      } else if (s != MmuStatus::kNoMemory || !starve) {
        CHECK(s == MmuStatus::kOk, "Kmap of 0x%lx: %s", page.value(), MmuStatusName(s));
        CHECK(va.value() >= kKmap && va.value() - kKmap < kKmapSize, "Kmap gave 0x%lx", va.value());
        for (const Kmapped& k : kmaps_) CHECK(k.va != va, "Kmap gave held slot 0x%lx", va.value());
        kmaps_.push_back({va, page});
      }
      // Only a failed Kmap flushes: the tables it made and gave back.
      CHECK(s != MmuStatus::kOk || cpu_.Events().empty(), "Kmap flushed");
    }
    for (const Kmapped& k : kmaps_) {
      Translation t = mmu_.Translate(table_, k.va);
      CHECK(t.status == MmuStatus::kOk && t.pa == k.pa, "KMAP slot 0x%lx lost its page 0x%lx", k.va.value(),
            k.pa.value());
    }
  }

  void Step(FuzzedDataProvider& in) {
    const uint8_t op = in.ConsumeIntegralInRange<uint8_t>(0, 3);
    if (op == 3) {
      if (user_) {
        KernelHalfThroughUser(in);
      } else {
        KmapStep(in);
      }
      cpu_.Take();
      return;
    }
    // Mostly 4 KiB and 2 MiB grains; 1 GiB ones cost a quarter-million model pages each.
    static constexpr uint64_t kGrain[] = {kPageSize, kPageSize, kPageSize, kPageSize, k2M, k2M, k2M, k1G};
    const uint64_t grain = kGrain[in.ConsumeIntegralInRange<unsigned>(0, 7)];
    uint64_t first = in.ConsumeIntegralInRange<uint64_t>(0, kWindow / grain - 1) * grain / kPageSize;
    first += in.ConsumeIntegralInRange<uint64_t>(0, 3) * (in.ConsumeBool() ? 1 : 511);
    if (first >= kPages) first = kPages - 1;
    uint64_t count = in.ConsumeIntegralInRange<uint64_t>(1, grain == k1G ? 2 : 3) * grain / kPageSize;
    count += in.ConsumeIntegralInRange<uint64_t>(0, 2) - (count > 1 && in.ConsumeBool() ? 1 : 0);
    if (count == 0) count = 1;
    if (count > kPages - first) count = kPages - first;
    const VirtAddr va(base_ + first * kPageSize);
    const uint64_t size = count * kPageSize;

    // The leaves over the range before the call, for the flush check (small ranges only: it costs a
    // Translate per page).
    const bool check_flush = count <= 2048;
    std::vector<Translation> before;
    std::vector<Entry> old;
    if (check_flush) {
      for (uint64_t i = 0; i < count; ++i) before.push_back(mmu_.Translate(table_, va + i * kPageSize));
      old.assign(model_.begin() + first, model_.begin() + first + count);
    }

    if (op == 0) {
      uint64_t pa = in.ConsumeIntegralInRange<uint64_t>(0, kPhysLimit / k1G) * k1G;
      pa += in.ConsumeBool() ? (va.value() % k1G) : in.ConsumeIntegralInRange<uint64_t>(0, k1G / kPageSize - 1) * kPageSize;
      // Now and then the range ends a page short of the physical limit, at it, or a page past it.
      if (in.ConsumeIntegralInRange<uint8_t>(0, 7) == 0) {
        pa = kPhysLimit - size - kPageSize + in.ConsumeIntegralInRange<uint64_t>(0, 2) * kPageSize;
      }
      const Attr attrs = RandomAttrs(in);
      const bool starve = in.ConsumeIntegralInRange<uint8_t>(0, 15) == 0;
      if (starve) pages_.set_budget(in.ConsumeIntegralInRange<long>(0, 3));
      const uint64_t tables = mmu_.table_pages();
      MmuStatus s = mmu_.Pmap(table_, PhysAddr(pa), va, size, attrs);
      pages_.set_budget(-1);
      bool free = true;
      for (uint64_t i = 0; i < count && free; ++i) free = model_[first + i] == 0;
      if (pa + size > kPhysLimit) {
        CHECK(s == MmuStatus::kBadPhysAddr, "Pmap of 0x%lx+0x%lx past the physical limit: %s", pa, size, MmuStatusName(s));
      } else if (!free) {
        // Starved, it may run dry before it reaches the mapped page; either way nothing changes.
        CHECK(s == MmuStatus::kAlreadyMapped || (starve && s == MmuStatus::kNoMemory), "Pmap over mapped pages: %s",
              MmuStatusName(s));
      } else if (s == MmuStatus::kNoMemory) {
        CHECK(starve, "Pmap ran out of memory unstarved");
      } else {
        CHECK(s == MmuStatus::kOk, "Pmap of 0x%lx+0x%lx: %s", va.value(), size, MmuStatusName(s));
        for (uint64_t i = 0; i < count; ++i) model_[first + i] = Make(pa + i * kPageSize, attrs);
        touched_lo_ = std::min(touched_lo_, first);
        touched_hi_ = std::max(touched_hi_, first + count);
      }
      // A failed Pmap undoes what it mapped, and that may flush; a successful one never flushes.
      if (s != MmuStatus::kOk) CHECK(mmu_.table_pages() == tables, "failed Pmap kept page tables");
      if (s == MmuStatus::kOk) CHECK(cpu_.Events().empty(), "Pmap flushed");
    } else {
      const Attr attrs = RandomAttrs(in);
      MmuStatus s = op == 1 ? mmu_.Punmap(table_, va, size) : mmu_.Protect(table_, va, size, attrs);
      CHECK(s == MmuStatus::kOk, "op %u on 0x%lx+0x%lx: %s", op, va.value(), size, MmuStatusName(s));
      touched_lo_ = std::min(touched_lo_, first);
    touched_hi_ = std::max(touched_hi_, first + count);
    for (uint64_t i = 0; i < count; ++i) {
        Entry& e = model_[first + i];
        if (e != 0) e = op == 1 ? 0 : Make(e & ~uint64_t{0xfff}, attrs);
      }
    }
    if (check_flush && op != 0) CheckFlushes(va, count, before, old, first);
    cpu_.Take();

    for (uint64_t p : {first, first + count - 1}) {
      Check(p);
      if (p > 0) Check(p - 1);
      if (p + 1 < kPages) Check(p + 1);
    }
    for (int i = 0; i < 8; ++i) Check(in.ConsumeIntegralInRange<uint64_t>(0, kPages - 1));
  }

  void CheckFlushes(VirtAddr va, uint64_t count, const std::vector<Translation>& before, const std::vector<Entry>& old,
                    uint64_t first) {
    bool full = false;
    std::vector<uint64_t> invlpgs;
    for (const FakeCpu::Event& e : cpu_.Events()) {
      if (e.op == FakeCpu::Op::kInvlpg) {
        invlpgs.push_back(e.addr);
      } else {
        CHECK(e.op == (user_ ? FakeCpu::Op::kLoadCr3 : FakeCpu::Op::kFlushGlobal), "wrong full flush");
        full = true;
      }
    }
    CHECK(!full || invlpgs.empty(), "both a full flush and single pages");
    std::vector<bool> used(invlpgs.size(), false);
    uint64_t changed = 0;
    for (uint64_t i = 0; i < count; ++i) {
      if (old[i] == 0 || old[i] == model_[first + i]) continue;
      ++changed;
      if (full) continue;
      const uint64_t leaf = Bytes(before[i].size);
      const uint64_t lo = AlignDown((va + i * kPageSize).value(), leaf);
      bool covered = false;
      for (size_t j = 0; j < invlpgs.size(); ++j) {
        if (invlpgs[j] >= lo && invlpgs[j] - lo < leaf) covered = used[j] = true;
      }
      CHECK(covered, "changed page 0x%lx was not invalidated", (va + i * kPageSize).value());
    }
    for (size_t j = 0; j < invlpgs.size(); ++j) CHECK(used[j], "needless invlpg 0x%lx", invlpgs[j]);
    CHECK(!full || changed > 0, "full flush with nothing changed");
  }

  // Translate everywhere, at leaf granularity: every leaf of the table lies in the window and agrees page
  // by page with the model, and the leaves cover exactly as many pages as the model has mapped, so there
  // is no mapping the model lacks and none it has that the table lacks.
  void Finish() {
    for (const Kmapped& k : kmaps_) mmu_.Kunmap(k.va);
    uint64_t mapped = 0;
    for (uint64_t p = touched_lo_; p < touched_hi_; ++p) mapped += model_[p] != 0;
    struct Ctx {
      Harness* h;
      uint64_t covered;
    } ctx = {this, 0};
    mmu_.VisitLeaves(
        table_,
        [](void* p, VirtAddr va, unsigned level, uint64_t e) {
          auto& c = *static_cast<Ctx*>(p);
          const uint64_t n = LevelSize(level) / kPageSize;
          CHECK(va.value() >= c.h->base_ && va.value() - c.h->base_ < kWindow, "leaf 0x%lx outside the window", va.value());
          const uint64_t first = (va.value() - c.h->base_) / kPageSize;
          const uint64_t pa = e & pte::kAddrMask & ~(LevelSize(level) - 1);
          for (uint64_t i = 0; i < n; ++i) {
            CHECK(c.h->model_[first + i] == Make(pa + i * kPageSize, PteAttrs(e)), "page 0x%lx: table 0x%lx, model 0x%lx",
                  (va + i * kPageSize).value(), e, c.h->model_[first + i]);
          }
          c.h->Check(first);
          c.covered += n;
        },
        &ctx);
    CHECK(ctx.covered == mapped, "the leaves cover %lu pages, the model maps %lu", ctx.covered, mapped);
    CHECK(mmu_.Punmap(table_, VirtAddr(base_), kWindow) == MmuStatus::kOk, "final unmap");
    CHECK(mmu_.table_pages() == baseline_, "%lu page-table pages left, %lu at start", mmu_.table_pages(), baseline_);
    CHECK(pages_.outstanding() == baseline_ + mmu_.pool_pages(), "pages leaked: %zu out, %lu in tables, %u pooled",
          pages_.outstanding(), baseline_, mmu_.pool_pages());
    if (touched_lo_ < touched_hi_) std::fill(model_.begin() + touched_lo_, model_.begin() + touched_hi_, 0);
  }

 private:
  FakeCpu cpu_;
  testing::ArenaPtPages pages_;
  Mmu mmu_;
  bool user_;
  uint64_t base_;
  PhysAddr table_;
  uint64_t baseline_ = 0;
  std::vector<Entry>& model_;
  uint64_t touched_lo_ = kPages, touched_hi_ = 0;  // the model is zero outside [lo, hi)
  struct Kmapped {
    VirtAddr va;
    PhysAddr pa;
  };
  std::vector<Kmapped> kmaps_;
};

}  // namespace
}  // namespace kmem::x86

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kmem::testing::PhysArena arena(kmem::PhysAddr(0x100000000), 64 << 20);
  FuzzedDataProvider in(data, size);
  static std::vector<kmem::x86::Entry> model(kmem::x86::kPages, 0);
  kmem::x86::Harness h(arena, in.ConsumeBool(), model);
  for (int i = 0; i < 48 && in.remaining_bytes() > 0; ++i) h.Step(in);
  h.Finish();
  return 0;
}
