// The TLB shootdown self-test (boot/arch.h's ArchSelfTests runs it last): a translation that other CPUs
// cached is gone on all of them once the unmap that removed it returns.
#pragma once

#include "boot/allocinit.h"

namespace kmem::boot {

// Every other online CPU (this one, when it is alone) reads a vmalloc'ed page through the kernel's tables
// in a loop, with interrupts on; once each has the translation cached, this CPU frees the page (an unmap
// through the kernel's AddressSpace, which shoots the batch down) and says so; each reader's next read
// must page-fault and be caught (x86::ProbeRead). A read that still succeeds after the unmap returned
// panics, unless `kmem.noshootdown` switched the shootdown off: then each is reported on a "tlb: self-test
// with the shootdown off" line, which a boot test expects. Alone, this CPU reads, unmaps and reads again.
// Ends with the TLB counts.
void TlbSelfTest(KernelPalloc& palloc);

}  // namespace kmem::boot
