// An ArchAspace for host tests of the portable address-space layer: records each call in order and answers
// with a status the test sets, so tests check what AddressSpace forwards, and when.
#pragma once

#include <string>
#include <vector>

#include "mm/vm/aspace.h"

namespace kmem::testing {

class FakeArchAspace final : public ArchAspace {
 public:
  VmStatus Map(VirtAddr va, PhysAddr, uint64_t size, Prot, CacheMode) override { return Call("map", va, size); }
  VmStatus Unmap(VirtAddr va, uint64_t size) override { return Call("unmap", va, size); }
  VmStatus Protect(VirtAddr va, uint64_t size, Prot) override { return Call("protect", va, size); }
  VmStatus Query(VirtAddr va, VmMapping*) override { return Call("query", va, 0); }
  void Activate() override { calls.push_back("activate"); }
  void Release() override { calls.push_back("release"); }

  std::vector<std::string> calls;
  VmStatus answer = VmStatus::kOk;

 private:
  VmStatus Call(const char* op, VirtAddr va, uint64_t size) {
    calls.push_back(std::string(op) + " " + std::to_string(va.value()) + " " + std::to_string(size));
    return answer;
  }
};

}  // namespace kmem::testing
