// Inside kernel/proc: the Process object the loader, the system calls and the fault hook share.
#pragma once

#include <stdint.h>

#include "kernel/proc/arch.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/sched.h"
#include "mm/vm/aspace.h"
#include "mm/vm/user_vm.h"

namespace kmem::kernel {

class Process {
 public:
  Process(uint64_t pid, const char* name, ArchAspace& tables, const UserVmLimits& limits);

  const uint64_t pid;
  char name[16] = {};
  ArchAspace& tables;
  AddressSpace space;
  // Its VMAs; every call under `lock`.
  UserVm vm;
  QLock lock;
  Thread* thread = nullptr;
  // Where the program starts, set by the loader.
  uint64_t entry = 0, sp = 0, argc = 0, argv = 0;
  ProcEnd end = {};
  // fork: a child starts from its parent's system call (forked) instead of the ELF's entry. Its parent
  // links it into `children` (through `sibling`) until wait or the parent's end reaps it; only the
  // process's own thread touches the list.
  bool forked = false;
  UserContext context = {};
  Process* children = nullptr;
  Process* sibling = nullptr;
};

// fork and wait (process.cc): the calling process's copy, which returns 0 from the system call, as a child;
// its pid, or a negated abi::Err.
int64_t ForkCurrent(Process& parent);
// Waits for the child `pid` of `parent` to end and frees it: its pid, with *status exit's status or the
// negated vector (or kill status) that killed it; Err::kInval when no child has that pid.
int64_t WaitChild(Process& parent, uint64_t pid, int64_t* status);

// The process of the calling thread; panics on a thread that runs none.
Process& CurrentProcess();

// The system-call hook (syscalls.cc).
int64_t Syscall(SyscallArgs& a);

// The deps ProcInit was given.
const ProcDeps& Deps();

}  // namespace kmem::kernel
