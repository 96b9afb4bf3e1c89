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
};

// The process of the calling thread; panics on a thread that runs none.
Process& CurrentProcess();

// The system-call hook (syscalls.cc).
int64_t Syscall(SyscallArgs& a);

// The deps ProcInit was given.
const ProcDeps& Deps();

}  // namespace kmem::kernel
