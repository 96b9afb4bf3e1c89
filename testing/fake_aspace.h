// An ArchAspace for host tests of the portable address-space layer: a model of page-granular mappings that
// records each call in order (the flushes it is asked for are counted per CPU, not logged). Unmap and
// Protect put each page they change into the batch, Harvest each page whose accessed or dirty bit (set by
// the test) it cleared. A test can force every call's answer (`answer`) or make Map run out of table
// memory after a number of calls (`maps_left`), to reach the callers' error paths.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mm/vm/aspace.h"

namespace kmem::testing {

class FakeArchAspace final : public ArchAspace {
 public:
  VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache, TlbBatch&) override {
    Log("map", va, size);
    if (answer != VmStatus::kOk) return answer;
    if (!va.IsAlignedTo(kPageSize) || !IsAligned(size, kPageSize) || size == 0) return VmStatus::kMisaligned;
    if (maps_left == 0) return VmStatus::kNoMemory;
    if (maps_left > 0) --maps_left;
    for (uint64_t off = 0; off < size; off += kPageSize) {
      if (pages.count(va.value() + off) != 0) return VmStatus::kAlreadyMapped;
    }
    for (uint64_t off = 0; off < size; off += kPageSize) {
      pages[va.value() + off] = {pa + off, prot, cache, AccessBits::kNone};
    }
    return VmStatus::kOk;
  }
  VmStatus Unmap(VirtAddr va, uint64_t size, TlbBatch& batch) override {
    Log("unmap", va, size);
    if (answer != VmStatus::kOk) return answer;
    for (uint64_t off = 0; off < size; off += kPageSize) {
      if (pages.erase(va.value() + off) != 0) batch.AddPage(va + off);
    }
    return VmStatus::kOk;
  }
  VmStatus Protect(VirtAddr va, uint64_t size, Prot prot, TlbBatch& batch) override {
    Log("protect", va, size);
    if (answer != VmStatus::kOk) return answer;
    for (uint64_t off = 0; off < size; off += kPageSize) {
      if (auto it = pages.find(va.value() + off); it != pages.end()) {
        it->second.prot = prot;
        batch.AddPage(va + off);
      }
    }
    return VmStatus::kOk;
  }
  VmStatus Remap(VirtAddr va, PhysAddr pa, Prot prot, TlbBatch& batch) override {
    Log("remap", va, kPageSize);
    if (answer != VmStatus::kOk) return answer;
    auto it = pages.find(va.value());
    if (it == pages.end()) return VmStatus::kNotMapped;
    it->second = {pa, prot, CacheMode::kCached, AccessBits::kNone};
    batch.AddPage(va);
    return VmStatus::kOk;
  }
  VmStatus Query(VirtAddr va, VmMapping* out) override {
    Log("query", va, 0);
    if (answer != VmStatus::kOk) return answer;
    auto it = pages.find(va.AlignedDown(kPageSize).value());
    if (it == pages.end()) return VmStatus::kNotMapped;
    *out = VmMapping{it->second.pa + (va.value() & (kPageSize - 1)), kPageSize, it->second.prot, it->second.cache};
    return VmStatus::kOk;
  }
  // A test sets a page's accessed and dirty bits (Page below), as the MMU would on an access.
  VmStatus Harvest(VirtAddr va, uint64_t size, HarvestFn visit, void* ctx, TlbBatch& batch) override {
    Log("harvest", va, size);
    if (answer != VmStatus::kOk) return answer;
    for (auto it = pages.lower_bound(va.value()); it != pages.end() && it->first - va.value() < size; ++it) {
      const AccessBits found = it->second.bits;
      it->second.bits = AccessBits::kNone;
      if (found != AccessBits::kNone) batch.AddPage(VirtAddr(it->first));
      visit(ctx, VirtAddr(it->first), it->second.pa, found);
    }
    return VmStatus::kOk;
  }
  TlbDone FlushHere(const TlbBatch& batch) override {
    ++flushes[CpuId()];
    return batch.full() ? TlbDone::kFull : TlbDone::kPages;
  }
  void Reclaim(TlbBatch&) override {}
  void Activate(TlbReuse reuse) override { calls.push_back(reuse == TlbReuse::kKeep ? "activate keep" : "activate"); }
  bool Tagged() const override { return tagged; }
  void Release() override { calls.push_back("release"); }

  struct Page {
    PhysAddr pa;
    Prot prot;
    CacheMode cache;
    AccessBits bits = AccessBits::kNone;  // what the translation recorded since the last Harvest
  };
  std::map<uint64_t, Page> pages;  // page-aligned va -> its mapping
  std::vector<std::string> calls;
  VmStatus answer = VmStatus::kOk;
  long maps_left = -1;  // Map calls that may still succeed; -1: no limit
  bool tagged = false;  // whether the space's TLB entries outlive a switch (PCIDs)
  unsigned flushes[kMaxCpus] = {};  // FlushHere calls on each CPU

 private:
  void Log(const char* op, VirtAddr va, uint64_t size) {
    calls.push_back(std::string(op) + " " + std::to_string(va.value()) + " " + std::to_string(size));
  }
};

}  // namespace kmem::testing
