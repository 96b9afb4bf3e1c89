// Whether an allocator clears what it hands out: xalloc's Xallocz, the pools' Mallocz, the slab caches.
#pragma once

namespace kmem {

enum class Zero { kNo, kYes };

}  // namespace kmem
