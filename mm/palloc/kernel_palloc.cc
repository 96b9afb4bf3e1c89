// Compiles every KernelPalloc member once, here, for the platform being built (the kernel's included), so
// the template is checked where it runs and its callers share one copy.
#include "mm/palloc/kernel_palloc.h"

template class kmem::Palloc<kmem::KernelPalloc::Backend>;
