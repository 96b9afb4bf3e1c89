// User mode on x86_64: ring 3 entered with iretq and left through SYSCALL, an interrupt or an exception, each
// of which swapgs'es into the kernel's GS (the Mach, kernel_percpu.h) and back out; the kernel's answers go
// to hooks kernel/proc installs (UserHooks). Every kernel access to user memory goes through the checked
// copies below, the only code that opens SMAP's window (stac/clac) where the CPU has SMAP.
//
// Segments (trap.cc's per-CPU GDT): 0x08 kernel code, 0x10 kernel data, 0x1b user data, 0x23 user code,
// 0x28 the TSS. SYSCALL enters at 0x08 with RFLAGS' IF, DF, TF, AC and NT cleared; SYSRET leaves to 0x23.
// The x87/SSE state is not switched or enabled (CR4.OSFXSR is clear, as the kernel is built without SSE):
// user programs are built without SSE, and an SSE instruction in ring 3 kills with "invalid opcode".
// Non-maskable interrupts and machine checks, which the kernel never expects, panic as before.
//
// This implements kernel/proc/arch.h's user mode, whose types and contracts are there; on x86_64 RunUser's
// start-up registers are rdi and rsi, every other general register zero and RFLAGS = IF; a system call
// comes back with rcx and r11 clobbered; a process killed by an exception has the vector as its status (14
// page fault, 13 general protection, ...), and its message names the exception and the rip ("general
// protection fault at rip 0x401234"). The per-CPU user state is TSS.rsp0 with the SYSCALL entry's stack,
// and RunUser's saved frame; the user's GS base is always 0 (the GDT's user segments have base 0 and
// CR4.FSGSBASE is off), so nothing of it is per thread. A checked copy costs one stac/clac pair and a rep
// movsb (CopyStringFromUser: a byte loop).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/proc/arch.h"

namespace kmem::x86 {

using kernel::CopyFromUser;
using kernel::CopyStatus;
using kernel::CopyStatusName;
using kernel::CopyStringFromUser;
using kernel::CopyToUser;
using kernel::EndUser;
using kernel::LoadUserState;
using kernel::RunUser;
using kernel::SaveUserState;
using kernel::SetUserHooks;
using kernel::SyscallArgs;
using kernel::UserAccess;
using kernel::UserAccessName;
using kernel::UserCpuState;
using kernel::UserExit;
using kernel::UserFaultAction;
using kernel::UserHooks;

// SMAP, decided once on the boot CPU (archinit: kOff for a CPU without it, or with kmem.nosmap): kOn sets
// CR4.SMAP here, which the application processors copy (arch/x86_64/boot/smp.cc), and makes the copies and
// every kernel entry use stac/clac, which fault on a CPU without SMAP.
enum class Smap : uint8_t { kOff, kOn };
void SetUserSmap(Smap smap);
Smap UserSmap();

}  // namespace kmem::x86
