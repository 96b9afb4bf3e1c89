// The kernel's page-frame allocator: Palloc over the backend that --//mm/palloc:backend chose (BUILD.bazel
// selects the backend library and defines KMEM_PALLOC_COLOUR for the colour backend), so the kernel calls
// the backend directly, with no virtual dispatch.
#pragma once

#include "mm/palloc/palloc.h"

#if defined(KMEM_PALLOC_COLOUR)
#include "mm/palloc/colour.h"
namespace kmem {
using KernelPalloc = Palloc<ColourBackend>;
}  // namespace kmem
#else
#include "mm/palloc/buddy.h"
namespace kmem {
using KernelPalloc = Palloc<BuddyBackend>;
}  // namespace kmem
#endif
