// Simulated physical memory for host tests: an anonymous mapping that plays the role of RAM at physical
// [base, base + size), with the DirectMap (KADDR/PADDR) that reaches it. Pages are only backed by the host
// when touched, so an arena can stand for gigabytes of "physical" memory cheaply.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/direct_map.h"

namespace kmem::testing {

class PhysArena {
 public:
  PhysArena(PhysAddr base, uint64_t size);
  ~PhysArena();
  PhysArena(const PhysArena&) = delete;
  PhysArena& operator=(const PhysArena&) = delete;

  PhysAddr base() const { return map_.phys_base(); }
  uint64_t size() const { return map_.size(); }
  const DirectMap& direct_map() const { return map_; }

  // Makes [pa, pa + len) unreadable and unwritable, like a hole in the physical address space: touching
  // it faults. Used to test code that must not touch memory it was not given.
  void Revoke(PhysAddr pa, uint64_t len);

 private:
  void* mem_;
  DirectMap map_;
};

}  // namespace kmem::testing
