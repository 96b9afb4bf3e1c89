// The pools' in-kernel self-test, run at boot once mainmem, secrmem and Kmalloc are initialised: a
// pseudo-random stress of Malloc, Kmalloc and a slab cache with contents checked, the secret pool's wipe on
// free and on Poolreset, and full walks that must agree with the statistics.
#pragma once

#include <stdint.h>

namespace kmem::pool {

// What the self-test needs, which the kernel's minimum memory counts (mm/conf's ConfNeeds): mainmem and
// secrmem allowed to grow that far, and that many bytes from the pools' source in all (mainmem's arenas,
// the slab caches' slabs, secrmem's arena). Its operation stream is fixed, so these are measured with the
// kernel's 64 KiB arenas: mainmem needs 832 KiB; the source sometimes suffices from 1152 KiB and always
// from 1408 KiB (where the slabs and arenas land depends on what is left). selftest_test holds the test to
// these figures.
inline constexpr uint64_t kSelfTestMainmemBytes = 1 << 20;
inline constexpr uint64_t kSelfTestSecrmemBytes = 64 << 10;
inline constexpr uint64_t kSelfTestSourceBytes = 1536 << 10;

enum class SelfTestStatus { kPassed, kFailed };

// Prints one line per check ("pool selftest: <check>: ok" or ": FAILED, <why>"), then the pool and cache
// tables. Leaves mainmem and the caches as it found them; needs secrmem empty and Poolresets it. A broken
// invariant inside an allocator panics rather than returning kFailed. Costs a few milliseconds.
SelfTestStatus PoolSelfTest();

// The stress alone, in a form every CPU can run at once (each with its own slots, random stream and slab
// cache, over the shared mainmem and Kmalloc): checks its blocks' contents, mainmem with PoolCheck and its
// own cache with KmemCacheCheck as it goes, and prints one line, "pool selftest cpuN: stress: ok" or
// ": FAILED, <why>". What it cannot check while others run, the caller checks once every CPU has finished:
// mainmem's and Kmalloc's live counts as before, KmemCheckAll. Needs the pools to have room for every
// CPU's share (kSelfTestMainmemBytes each) and interrupts on (destroying its cache drains every CPU).
// *allocations gets the blocks and objects it allocated (and freed again), for the caller's totals.
SelfTestStatus PoolSelfTestConcurrent(uint64_t* allocations);

}  // namespace kmem::pool
