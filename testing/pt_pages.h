// A page-table page allocator for host tests: hands out the pages of a PhysArena, counts pages out and in
// (so tests prove nothing leaks), checks that no page is freed twice or freed unallocated, and can be told
// to run dry after a number of allocations to exercise the out-of-memory paths.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "arch/x86_64/mmu.h"
#include "testing/phys_arena.h"

namespace kmem::testing {

class ArenaPtPages : public x86::PtPageAllocator {
 public:
  explicit ArenaPtPages(const PhysArena& arena) : next_(arena.base()), end_(arena.base() + arena.size()) {}

  bool Alloc(PhysAddr* page) override {
    if (budget_ == 0) return false;
    if (budget_ > 0) --budget_;
    if (!free_.empty()) {
      *page = free_.back();
      free_.pop_back();
    } else {
      if (next_ >= end_) return false;
      *page = next_;
      next_ = next_ + kPageSize;
    }
    out_.insert(page->value());
    return true;
  }

  void Free(PhysAddr page) override {
    if (out_.erase(page.value()) != 1) {
      std::fprintf(stderr, "ArenaPtPages: free of 0x%lx, which is not allocated\n", page.value());
      std::abort();
    }
    free_.push_back(page);
  }

  // Pages handed out and not returned.
  size_t outstanding() const { return out_.size(); }
  // After this many more successful allocations, Alloc fails; -1 means never.
  void set_budget(long n) { budget_ = n; }

 private:
  PhysAddr next_, end_;
  std::vector<PhysAddr> free_;
  std::set<uint64_t> out_;
  long budget_ = -1;
};

}  // namespace kmem::testing
