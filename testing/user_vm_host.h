// What a UserVm needs on the host: VMA nodes from a counting pool and user pages from a Palloc over a
// PhysArena (so the space can zero and copy them), each with a budget that makes it run dry after a number
// of allocations, to reach the no-memory paths. Both count what is out, so a test proves nothing leaks.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "mm/palloc/colour.h"
#include "mm/vm/palloc_pages.h"
#include "mm/vm/user_vm.h"
#include "testing/palloc_host.h"
#include "testing/phys_arena.h"

namespace kmem::testing {

// Nodes come in blocks of kBlock, packed as a slab cache packs them in the kernel.
class VmaNodePool {
 public:
  static constexpr size_t kBlock = 256;

  VmaNodeSource source() { return VmaNodeSource{&Alloc, &Free, this}; }
  // Nodes handed out and not returned.
  size_t outstanding() const { return out_.size(); }
  // After this many more allocations, alloc fails; -1 means never.
  void set_budget(long n) { budget_ = n; }

 private:
  static void* Alloc(void* ctx) {
    auto& pool = *static_cast<VmaNodePool*>(ctx);
    if (pool.budget_ == 0) return nullptr;
    if (pool.budget_ > 0) --pool.budget_;
    if (pool.free_.empty()) {
      pool.storage_.push_back(std::make_unique<VmaNode[]>(kBlock));
      for (size_t i = kBlock; i > 0; --i) pool.free_.push_back(&pool.storage_.back()[i - 1]);
    }
    VmaNode* n = pool.free_.back();
    pool.free_.pop_back();
    pool.out_.insert(n);
    return n;
  }
  static void Free(void* ctx, void* node) {
    auto& pool = *static_cast<VmaNodePool*>(ctx);
    if (pool.out_.erase(static_cast<VmaNode*>(node)) != 1) {
      std::fprintf(stderr, "VmaNodePool: free of %p, which is not allocated\n", node);
      std::abort();
    }
    pool.free_.push_back(static_cast<VmaNode*>(node));
  }

  std::vector<std::unique_ptr<VmaNode[]>> storage_;
  std::vector<VmaNode*> free_;
  std::set<VmaNode*> out_;
  long budget_ = -1;
};

// User pages from a colour-backend Palloc over all of `arena`.
class HostUserPages {
 public:
  using P = Palloc<ColourBackend>;
  static constexpr unsigned kColours = 8;

  explicit HostUserPages(const PhysArena& arena)
      : palloc_({BankRange{arena.base(), arena.size() / kPageSize}}, kColours), inner_(PallocUserPages(*palloc_)) {}

  UserPages source() { return UserPages{&NewPage, &PutPage, &Ref, &Sole, &Age, this}; }
  P& palloc() { return *palloc_; }
  // After this many more pages, new_page fails; -1 means never.
  void set_budget(long n) { budget_ = n; }

 private:
  static bool NewPage(void* ctx, VirtAddr va, PhysAddr* pa) {
    auto& self = *static_cast<HostUserPages*>(ctx);
    if (self.budget_ == 0) return false;
    if (self.budget_ > 0) --self.budget_;
    return self.inner_.new_page(self.inner_.ctx, va, pa);
  }
  static void PutPage(void* ctx, PhysAddr pa) {
    auto& self = *static_cast<HostUserPages*>(ctx);
    self.inner_.put_page(self.inner_.ctx, pa);
  }

  static void Ref(void* ctx, PhysAddr pa) {
    auto& self = *static_cast<HostUserPages*>(ctx);
    self.inner_.ref(self.inner_.ctx, pa);
  }
  static bool Sole(void* ctx, PhysAddr pa) {
    auto& self = *static_cast<HostUserPages*>(ctx);
    return self.inner_.sole(self.inner_.ctx, pa);
  }

  static PageAgeing Age(void* ctx, PhysAddr pa, AccessBits found, uint64_t pass) {
    auto& self = *static_cast<HostUserPages*>(ctx);
    return self.inner_.age(self.inner_.ctx, pa, found, pass);
  }

  HostPalloc<ColourBackend> palloc_;
  UserPages inner_;
  long budget_ = -1;
};

}  // namespace kmem::testing
