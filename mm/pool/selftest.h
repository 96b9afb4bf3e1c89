// The pools' in-kernel self-test, run at boot once mainmem, secrmem and Kmalloc are initialised: a
// pseudo-random stress of Malloc, Kmalloc and a slab cache with contents checked, the secret pool's wipe on
// free and on Poolreset, and full walks that must agree with the statistics.
#pragma once

namespace kmem::pool {

enum class SelfTestStatus { kPassed, kFailed };

// Prints one line per check ("pool selftest: <check>: ok" or ": FAILED, <why>"), then the pool and cache
// tables. Leaves mainmem and the caches as it found them; needs secrmem empty and Poolresets it. A broken
// invariant inside an allocator panics rather than returning kFailed. Costs a few milliseconds.
SelfTestStatus PoolSelfTest();

}  // namespace kmem::pool
