// The kernel's page-frame allocator: Palloc over the backend that --//mm/palloc:backend chose. BUILD.bazel's
// select (from backends.bzl) links that backend's library and names its header and class here, so the
// kernel calls the backend directly, with no virtual dispatch; a build without a backend cannot get here.
#pragma once

#include "mm/palloc/palloc.h"

#if !defined(KMEM_PALLOC_BACKEND_HEADER) || !defined(KMEM_PALLOC_BACKEND_CLASS)
#error "KMEM_PALLOC_BACKEND_HEADER and KMEM_PALLOC_BACKEND_CLASS come from //mm/palloc:palloc's select"
#endif
#include KMEM_PALLOC_BACKEND_HEADER

namespace kmem {
using KernelPalloc = Palloc<KMEM_PALLOC_BACKEND_CLASS>;
}  // namespace kmem
