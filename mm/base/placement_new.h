// Placement new, to construct an object in memory an allocator gave (a slab's descriptor, a process):
// the kernel's freestanding build has no <new>, so it gets the one declaration it needs; host builds take
// the library's.
#pragma once

#if __has_include(<new>)
#include <new>
#else
inline void* operator new(decltype(sizeof 0), void* at) noexcept { return at; }
#endif
