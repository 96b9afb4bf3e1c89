// CPUs for host tests of the MMU, one per mm/ CPU id (each test thread is one, testing/host_env.cc): each
// records its CR3 loads, invlpgs and global flushes in order, so tests assert exactly which flushes an
// operation issued on which CPU, and models a TLB: Read caches the translation it walked (tagged with the
// loaded PCID, or global), and only the flushes the CPU is told about drop entries, as on hardware. A
// CPU's state is touched by that CPU with interrupts off, or by a cross-call to it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <vector>

#include "arch/x86_64/mmu.h"
#include "mm/base/percpu.h"

namespace kmem::testing {

class FakeCpu : public x86::CpuOps {
 public:
  enum class Op { kLoadCr3, kInvlpg, kFlushGlobal };
  struct Event {
    Op op;
    uint64_t addr;  // the CR3 value (root | PCID | bit 63 for no-flush) or the address; 0 for a global flush
    friend bool operator==(const Event& a, const Event& b) { return a.op == b.op && a.addr == b.addr; }
  };
  static constexpr uint64_t kNoFlush = uint64_t{1} << 63;

  void LoadCr3(PhysAddr top, uint16_t pcid, TlbReuse reuse) override {
    State& s = Here();
    s.events.push_back({Op::kLoadCr3, top.value() | pcid | (reuse == TlbReuse::kKeep ? kNoFlush : 0)});
    s.root = top;
    s.pcid = pcid;
    if (reuse == TlbReuse::kFlush) Drop(s, [pcid](const Key& k, const Entry& e) { return !e.global && k.pcid == pcid; });
    Flushed();
  }
  void Invlpg(VirtAddr va) override {
    State& s = Here();
    s.events.push_back({Op::kInvlpg, va.value()});
    const uint16_t pcid = s.pcid;
    Drop(s, [pcid, va](const Key& k, const Entry& e) {
      return (e.global || k.pcid == pcid) && va.value() - k.va < x86::Bytes(k.size);
    });
    Flushed();
  }
  void FlushGlobal() override {
    State& s = Here();
    s.events.push_back({Op::kFlushGlobal, 0});
    s.tlb.clear();
    Flushed();
  }
  unsigned CpuId() override { return ::kmem::CpuId(); }

  // A page walk of the loaded tables: true and the translation, or false at a hole.
  using Walker = std::function<bool(VirtAddr va, x86::Translation* t)>;
  // A load by the calling CPU (call with interrupts off): from its TLB when an entry usable now covers
  // `va`, otherwise walked and cached. Returns false (a page fault) when neither translates it.
  bool Read(VirtAddr va, PhysAddr* pa, const Walker& walk) {
    State& s = Here();
    if (const Entry* e = Find(s, va)) {
      *pa = e->pa + (va.value() - e->va);
      return true;
    }
    x86::Translation t;
    if (!walk(va, &t)) return false;
    const uint64_t bytes = x86::Bytes(t.size);
    const uint64_t base = va.value() & ~(bytes - 1);
    s.tlb[Key{s.pcid, base, t.size}] = Entry{t.pa - (va.value() - base), base, x86::Has(t.attrs, x86::Attr::kGlobal)};
    *pa = t.pa;
    return true;
  }
  // Whether the calling CPU's TLB has an entry for `va` that a load would use now.
  bool Holds(VirtAddr va) { return Find(Here(), va) != nullptr; }

  // The calling CPU's events so far; Take also forgets them.
  std::vector<Event>& Events() { return Here().events; }
  std::vector<Event> Take() {
    std::vector<Event> out;
    out.swap(Here().events);
    return out;
  }
  // Called on the flushing CPU after each flush it does.
  std::function<void()> on_flush;

 private:
  struct Key {
    uint16_t pcid;
    uint64_t va;  // the entry's first address
    x86::PageSize size;
    friend bool operator<(const Key& a, const Key& b) {
      return std::tie(a.pcid, a.va, a.size) < std::tie(b.pcid, b.va, b.size);
    }
  };
  struct Entry {
    PhysAddr pa;  // of the entry's first address
    uint64_t va;
    bool global;
  };
  struct State {
    PhysAddr root;
    uint16_t pcid = 0;
    std::map<Key, Entry> tlb;
    std::vector<Event> events;
  };

  State& Here() { return cpus_[::kmem::CpuId()]; }
  static const Entry* Find(const State& s, VirtAddr va) {
    for (const auto& [k, e] : s.tlb) {
      if ((e.global || k.pcid == s.pcid) && va.value() - k.va < x86::Bytes(k.size)) return &e;
    }
    return nullptr;
  }
  template <typename Pred>
  static void Drop(State& s, Pred pred) {
    for (auto it = s.tlb.begin(); it != s.tlb.end();) it = pred(it->first, it->second) ? s.tlb.erase(it) : std::next(it);
  }
  void Flushed() {
    if (on_flush) on_flush();
  }

  State cpus_[kMaxCpus];
};

inline FakeCpu::Event Invlpg(uint64_t va) { return {FakeCpu::Op::kInvlpg, va}; }
inline FakeCpu::Event LoadCr3(uint64_t cr3) { return {FakeCpu::Op::kLoadCr3, cr3}; }
inline FakeCpu::Event FlushGlobal() { return {FakeCpu::Op::kFlushGlobal, 0}; }

}  // namespace kmem::testing
