// What trap.cc and user.cc say to each other, and no one else: the TSS's ring-0 stack, each CPU's SYSCALL
// set-up, and the exceptions that are user mode's business.
#pragma once

#include <stdint.h>

#include "arch/x86_64/trap.h"

namespace kmem::x86 {

// trap.cc: this CPU's TSS.rsp0, where an interrupt or exception from ring 3 pushes its frame.
void SetTssRsp0(uint64_t top);

// user.cc, from TrapInit and TrapInitCpu: this CPU's SYSCALL MSRs (EFER.SCE, STAR, LSTAR, FMASK) and the
// user's GS base, 0.
void UserInitCpu();

// An exception from ring 3. Returns true to go back to ring 3 (a page fault the fault hook resolved, after
// before_return), ends the process otherwise (EndUser), or returns false for what is the machine's and
// not the process's (a non-maskable interrupt, a machine check, a double fault, a page fault on a corrupt
// table entry), which the caller panics on.
bool UserTrap(TrapFrame& frame, uint64_t cr2);

// A kernel page fault: when it is on a user address at one of the checked copies' user accesses, asks the
// fault hook and returns true (frame's rip left to retry, or moved to the copy's failure exit); false for
// any other fault.
bool UserCopyFixup(TrapFrame& frame, uint64_t cr2);

}  // namespace kmem::x86
