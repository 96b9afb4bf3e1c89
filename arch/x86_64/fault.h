// What an x86 exception means, in words: the exception's name, a page fault's error code, and what a page
// table holds at an address. Used by the kernel's trap handler (trap.h) to panic with a sentence rather
// than a vector number; host-tested like the rest of the MMU.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/mmu.h"

namespace kmem::x86 {

inline constexpr unsigned kExceptionVectors = 32;
inline constexpr unsigned kDoubleFault = 8;
inline constexpr unsigned kPageFault = 14;

// "page fault", "general protection fault", ...; "reserved exception" for vectors the SDM reserves.
const char* ExceptionName(unsigned vector);

// Whether the CPU pushes an error code for `vector` (8, 10-14, 17, 21, 29, 30).
bool ExceptionHasErrorCode(unsigned vector);

// A page fault's error code as "kernel write to a not-present page", "user instruction fetch from a page
// that forbids it", with ", a reserved bit set in its entry" or ", protection key" appended when those
// bits say so. Writes at most `cap` bytes, NUL included.
void DescribePageFaultError(uint64_t error, char* buf, size_t cap);

// What `t` (Mmu::Translate of the faulting address) says: "not mapped" or "mapped by a 4K page to
// 0x1234000, flags -W-G-" (ptdump's UWXGC letters).
void DescribeTranslation(const Translation& t, char* buf, size_t cap);

}  // namespace kmem::x86
