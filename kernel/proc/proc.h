// Processes: just enough of one to give the memory manager real clients. A process is a program linked
// into the kernel (user/images.h), an address space made of VMAs (mm/vm/user_vm.h) loaded from its ELF
// file (kernel/elf), and kernel threads (kernel/sched) that run it in user mode and serve its system calls
// (kernel/abi/syscall.h): the first, and those the thread system call starts. exit, a kill or a fatal
// fault in any thread ends every thread; when the last has ended everything the process held goes back:
// its pages, its page-table pages, its VMAs, its threads' stacks.
//
// Concurrency: a process's VMA operations (its system calls, its page faults, the loader's writes into it)
// run under its own sleeping lock, since they make TLB shootdowns, which cannot wait under a spinlock. Its
// threads contend for it, on several CPUs at once; a change's shootdown reaches every CPU that runs one of
// them (the space's tlb_cpus()).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/direct_map.h"
#include "mm/palloc/palloc.h"
#include "mm/pool/source.h"
#include "mm/vm/image.h"
#include "mm/vm/user_vm.h"

namespace kmem::kernel {

inline constexpr unsigned kMaxArgs = 8;        // argv[0], the program's name, included
inline constexpr unsigned kMaxArgBytes = 256;  // argv's strings, their NULs included
// How far a stack may grow below its top (the user half's last page is left unmapped above it).
inline constexpr uint64_t kStackLimit = uint64_t{1} << 20;

enum class ProcStatus : uint8_t {
  kOk,
  kNoProgram,   // argv[0] names no program linked into the kernel
  kBadProgram,  // its ELF file is malformed (`why` says how)
  kBadArgs,     // no argv[0], more than kMaxArgs arguments or kMaxArgBytes of them
  kNoMemory,    // no memory for the process, its tables, its VMAs, its stack or its thread
};
const char* ProcStatusName(ProcStatus status);

class Process;

// How a fault that found no memory (no page, or no page-table page) waits for some: palloc's WaitForPage,
// which sleeps on pwait through PwaitHooks; false when the process must give up (it is being killed).
// No `wait` (kmem.nopwait): such a fault kills the process with "no memory".
struct PageWait {
  bool (*wait)(void* ctx, VirtAddr va) = nullptr;
  void* ctx = nullptr;
};

// What processes are made of: where user pages come from (palloc's TryNewPage, in the page's colour), how
// a fault waits for one, the window their contents are filled through, and whether each process prints
// its maps as it ends (kmem.ps).
enum class PrintMaps : uint8_t { kNo, kYes };
struct ProcDeps {
  UserPages pages;
  PageWait wait;
  DirectMap map;
  PrintMaps maps;
};
// Once, after the scheduler started: installs the user-mode hooks and the thread-switch hook that carries
// each thread's user state.
void ProcInit(const ProcDeps& deps);

// Starts argv[0] with `argv` on a thread of its own, on `cpu` (kernel/sched's kAnyCpu: the least loaded);
// the caller must Wait for it. Prints nothing; on failure says why in `why`.
ProcStatus Spawn(unsigned argc, const char* const* argv, int cpu, Process** out, char* why, size_t cap);
// The same, detached: nobody waits, the process frees itself when it ends; *pid says which it is.
ProcStatus SpawnDetached(unsigned argc, const char* const* argv, int cpu, uint64_t* pid, char* why, size_t cap);

// How a process ended: exit's status, or killed and why.
struct ProcEnd {
  bool killed;
  int64_t status;
  char why[160];
  uint64_t entered_ns, left_ns;  // when it entered user mode and when it ended (kernel/sched's NowNs)
  bool tagged;                   // its TLB entries were tagged (x86: a PCID), so switches kept them
};

// Waits for `p` to end, then frees it. Each process is waited for exactly once.
ProcEnd Wait(Process* p);

// One line of `ps`: a live process (not yet freed) as it is now.
struct ProcInfo {
  uint64_t pid;
  char name[16];
  bool ended;    // it has ended and is waiting to be freed (by Wait)
  unsigned cpu;  // where its first thread runs or last ran (running ones)
  unsigned threads;  // its threads that have not ended
  uint64_t vmas, resident_pages;
};
// Fills up to `cap` processes, newest first; returns how many are live.
uint64_t ListProcesses(ProcInfo* out, uint64_t cap);
// Prints the VMAs of process `pid` like Linux's /proc/PID/maps with resident pages; false if there is none.
bool PrintVmas(uint64_t pid);
// Asks process `pid` to end: it is killed at its next return to user mode (a system call's end, a timer
// tick), with "killed by request". False if there is no such running process.
bool Kill(uint64_t pid);

// Shared text: the image cache's totals (images, users, pages held), which the processes' text pages come
// from (mm/vm/image.h). Its Images come from Kmalloc.
ImageStats ImageCacheStats();

// Memory pressure (pressure.cc): palloc's hooks for the kernel, given to its PageInit. A waiting allocation
// (NewPage, WaitForPage) sleeps on pwait once this CPU runs the scheduler, and before that panics as
// without hooks; a process's fault sleeps on the processes' queue, anything else on the kernel's, which a
// free wakes first. When every live process sleeps there (or in wait or join, for one that does) and none
// is being killed, the OOM policy kills the one on pwait with the largest resident set, with the line "oom: pid N (NAME) killed: R resident pages, the
// largest of M processes waiting for memory"; its fault fails and it ends, which frees the others.
PallocHooks PwaitHooks();
// Since boot: processes' sleeps on pwait, kernel threads' sleeps, OOM kills, and the bytes the slab caches
// gave back (KmemReap) to waiters, each of which reaps them once before it sleeps.
struct PwaitCounts {
  uint64_t sleeps, kernel_sleeps, oom_kills, reaped_bytes;
};
PwaitCounts PwaitCountsNow();

// Smalloc's waiting (smalloc.cc): the hooks the kernel's pools sleep on, one WaitQueue for every pool. Once
// this CPU runs the scheduler a Smalloc that finds its pool exhausted sleeps there until a free (or a new
// limit) in its pool releases memory; before that it panics as without hooks.
pool::PoolSync SmallocSync();
// Since boot: Smallocs that went to sleep.
uint64_t SmallocSleeps();
// The boot's self-test of it: kernel threads' Smallocs on a full page-sized pool of their own (over the
// kernel image, no page allocator) sleep until the boot thread frees, and each gets a zeroed block. With
// `sync` empty (kmem.nosmallocwait) the first of them panics as Smalloc did before it could wait. Prints
// one "smalloc: self-test:" line.
void SmallocSelfTest(const pool::PoolSync& sync);

// Page ageing (age.cc): starts, once, the kernel thread that ten times a second harvests the accessed and
// dirty bits of every live process's resident pages into their descriptors (UserVm::Age); false when no
// thread could be made (a later call tries again). Whoever counts pages before and after programs starts
// it before counting: the thread's stack stays.
bool AgeStart();
// The latest pass: its number (0: none yet), the processes it aged and what their pages said.
struct AgeTotals {
  uint64_t pass;
  uint64_t processes;
  AgeCounts counts;
};
AgeTotals AgeTotalsNow();
// "age: pass N over P processes, N pages: referenced R, modified M, ages 0:a 1:b 2-3:c 4-7:d 8+:e".
void PrintAge();

}  // namespace kmem::kernel
