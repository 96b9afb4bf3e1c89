// A CPU for host tests of the MMU: records every CR3 load, invlpg and global flush in order, so tests
// assert exactly which flushes an operation issued.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/x86_64/mmu.h"

namespace kmem::testing {

class FakeCpu : public x86::CpuOps {
 public:
  enum class Op { kLoadCr3, kInvlpg, kFlushGlobal };
  struct Event {
    Op op;
    uint64_t addr;  // CR3 value or the invalidated address; 0 for a global flush
    friend bool operator==(const Event& a, const Event& b) { return a.op == b.op && a.addr == b.addr; }
  };

  void LoadCr3(PhysAddr top) override { events.push_back({Op::kLoadCr3, top.value()}); }
  void Invlpg(VirtAddr va) override { events.push_back({Op::kInvlpg, va.value()}); }
  void FlushGlobal() override { events.push_back({Op::kFlushGlobal, 0}); }
  unsigned CpuId() override { return cpu; }

  // Returns the events so far and forgets them.
  std::vector<Event> Take() {
    std::vector<Event> out;
    out.swap(events);
    return out;
  }

  std::vector<Event> events;
  unsigned cpu = 0;
};

inline FakeCpu::Event Invlpg(uint64_t va) { return {FakeCpu::Op::kInvlpg, va}; }
inline FakeCpu::Event LoadCr3(uint64_t pa) { return {FakeCpu::Op::kLoadCr3, pa}; }
inline FakeCpu::Event FlushGlobal() { return {FakeCpu::Op::kFlushGlobal, 0}; }

}  // namespace kmem::testing
