// Address spaces (Zircon's VmAspace over its ArchVmAspace; 9front's per-process page tables): the kernel's
// one, or a process's. What every architecture shares lives here: the space's name and kind, its lock, the
// set of CPUs that have it loaded, whether it is still alive, and (with the process issue) its VMAs. The
// translation tables belong to the architecture, behind ArchAspace; arch/x86_64/aspace.h implements it
// with the 4-level tables of mmu.h.
//
// Invariant: a released space is never used again: mapping through it, loading it or releasing it twice
// panics with its name. A space is released only where no other CPU has it loaded.
#pragma once

#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/lock.h"
#include "mm/base/percpu.h"

namespace kmem {

// Access a mapping allows; every mapping can be read.
enum class Prot : uint8_t { kRead = 0, kWrite = 1 << 0, kExec = 1 << 1 };
constexpr Prot operator|(Prot a, Prot b) { return Prot(static_cast<uint8_t>(a) | static_cast<uint8_t>(b)); }
constexpr bool Has(Prot set, Prot p) { return (static_cast<uint8_t>(set) & static_cast<uint8_t>(p)) != 0; }

// How the CPU caches a mapping: normal memory, or device memory nothing may cache.
enum class CacheMode : uint8_t { kCached, kUncached };

enum class VmStatus : uint8_t {
  kOk,
  kMisaligned,        // address or size not whole pages, or size 0
  kOutOfRange,        // not in this space's half of the address space, or not an address the CPU has
  kAlreadyMapped,     // Map over a present mapping; nothing changed
  kNotMapped,         // Query of a hole
  kNoMemory,          // no page for a translation table; nothing changed
  kWrongMemoryType,   // device mapping of RAM, or a cache mode the platform's memory types contradict
};
const char* VmStatusName(VmStatus status);

// One translation as Query reports it.
struct VmMapping {
  PhysAddr pa;         // the physical address of the queried byte
  uint64_t page_size;  // the size of the page that maps it
  Prot prot;
  CacheMode cache;
};

// One space's translation tables, as an architecture keeps them. Each operation leaves the TLB of the
// calling CPU consistent with the tables before it returns; the SMP work extends that to every CPU that
// has the space loaded.
class ArchAspace {
 public:
  // [va, va + size) to [pa, pa + size), the largest pages alignment allows; all or nothing.
  virtual VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache) = 0;
  // Whatever is mapped in the range goes; holes are skipped.
  virtual VmStatus Unmap(VirtAddr va, uint64_t size) = 0;
  virtual VmStatus Protect(VirtAddr va, uint64_t size, Prot prot) = 0;
  virtual VmStatus Query(VirtAddr va, VmMapping* out) = 0;
  // Makes these tables the calling CPU's.
  virtual void Activate() = 0;
  // Frees the tables; nothing of the space is used afterwards.
  virtual void Release() = 0;

 protected:
  ~ArchAspace() = default;
};

class AddressSpace {
 public:
  enum class Kind : uint8_t { kKernel, kUser };

  // `arch` holds the space's tables, made for `kind`; the space does not own its storage.
  constexpr AddressSpace(const char* name, Kind kind, ArchAspace& arch) : name_(name), kind_(kind), arch_(arch) {}
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  VmStatus Map(VirtAddr va, PhysAddr pa, uint64_t size, Prot prot, CacheMode cache);
  VmStatus Unmap(VirtAddr va, uint64_t size);
  VmStatus Protect(VirtAddr va, uint64_t size, Prot prot);
  VmStatus Query(VirtAddr va, VmMapping* out);

  // Loads the space on the calling CPU, which leaves the space it had loaded (the per-CPU `current`).
  void Activate();
  // Frees the tables. Panics if another CPU has the space loaded; on this CPU, `fallback` (the kernel's
  // space) is loaded first.
  void Release(AddressSpace& fallback);

  // The space the calling CPU has loaded, or nullptr before the first Activate.
  static AddressSpace* Current();
  // The CPUs that have the space loaded, one bit each.
  uint32_t cpus() const { return __atomic_load_n(&cpus_, __ATOMIC_ACQUIRE); }
  const char* name() const { return name_; }
  Kind kind() const { return kind_; }

 private:
  void CheckAlive(const char* what) const;

  const char* name_;
  Kind kind_;
  bool released_ = false;
  uint32_t cpus_ = 0;
  ArchAspace& arch_;
  // Protects the space's tables and released_ (and, with the process issue, its VMAs). Address-space
  // level: a page-table change may take zone locks (page-table pages come from palloc), never the reverse.
  SpinLock lock_{"address space", LockLevel::kAddressSpace};
};

}  // namespace kmem
