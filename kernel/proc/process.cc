#include "kernel/proc/process.h"

#include "kernel/abi/syscall.h"
#include "kernel/elf/elf.h"
#include "kernel/proc/arch.h"
#include "kernel/proc/proc.h"
#include "kernel/sched/arch.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/placement_new.h"
#include "mm/pool/slab.h"
#include "user/images.h"

namespace kmem::kernel {
namespace {

ProcDeps deps;
ImageCache* images;          // every process's text images (ProcInit)
pool::KmemCache* vma_nodes;  // every process's VMA nodes (MakeVmaNodes)
uint64_t next_pid = 1;       // atomic: processes start on every CPU

// The VMA nodes' cache, made with the first process (so that until one runs the pools look as the self-tests
// left them). vma_nodes_state (atomic): 0 none, 1 being made, 2 made.
uint32_t vma_nodes_state = 0;

bool MakeVmaNodes() {
  uint32_t none = 0;
  if (__atomic_compare_exchange_n(&vma_nodes_state, &none, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    vma_nodes = pool::KmemCacheCreate("vma", sizeof(VmaNode), alignof(VmaNode));
    __atomic_store_n(&vma_nodes_state, vma_nodes != nullptr ? 2 : 0, __ATOMIC_RELEASE);
  }
  for (uint32_t st; (st = __atomic_load_n(&vma_nodes_state, __ATOMIC_ACQUIRE)) != 2;) {
    if (st == 0) return false;  // the maker found no memory
    Yield();
  }
  return true;
}

VmaNodeSource Nodes() {
  return VmaNodeSource{[](void*) { return pool::KmemCacheAlloc(vma_nodes); },
                       [](void*, void* node) { pool::KmemCacheFree(vma_nodes, node); }, nullptr};
}

Prot ProtOf(elf::SegmentProt p) {
  Prot prot = Prot::kRead;
  if (Has(p, elf::SegmentProt::kWrite)) prot = prot | Prot::kWrite;
  if (Has(p, elf::SegmentProt::kExec)) prot = prot | Prot::kExec;
  return prot;
}

// The ELF's segments as VMAs: an executable or read-only one is text (a.out's sense: code and constants), a
// writable one data, and the whole pages of a data segment past its file bytes bss.
ProcStatus LoadSegments(Process& p, const uint8_t* file, const elf::Image& image, char* why, size_t cap) {
  for (unsigned i = 0; i < image.segments; ++i) {
    const elf::Segment& s = image.segment[i];
    const uint64_t start = elf::PageStart(s), end = elf::PageEnd(s);
    const uint64_t head = s.va - start;  // the file's bytes before va on the first page come along
    const Prot prot = ProtOf(s.prot);
    const bool writable = Has(prot, Prot::kWrite);
    const uint64_t file_end = AlignDown(s.va + s.filesz + (kPageSize - 1), kPageSize);  // Parse: no overflow
    const uint64_t image_end = writable && s.filesz < s.memsz ? file_end : end;
    UserVmStatus st = UserVmStatus::kOk;
    if (image_end > start) {
      st = p.vm.AddImage(VirtAddr(start), image_end - start, prot, writable ? VmaKind::kData : VmaKind::kText,
                         file + s.offset - head, s.filesz + head);
    }
    if (st == UserVmStatus::kOk && image_end < end) {
      st = p.vm.AddImage(VirtAddr(image_end), end - image_end, prot, VmaKind::kBss, nullptr, 0);
    }
    if (st != UserVmStatus::kOk) {
      FormatTo(why, cap, "segment %u [0x%lx, 0x%lx): %s", i, start, end, Name(st));
      return st == UserVmStatus::kNoMemory ? ProcStatus::kNoMemory : ProcStatus::kBadProgram;
    }
  }
  return ProcStatus::kOk;
}

// The initial stack, top down: argv's strings, then argv[] (NULL-terminated), 16-byte aligned.
ProcStatus BuildStack(Process& p, unsigned argc, const char* const* argv, uint64_t top, char* why, size_t cap) {
  uint64_t ptrs[kMaxArgs + 1];
  uint64_t at = top;
  for (unsigned i = argc; i-- > 0;) {
    uint64_t n = 0;
    while (argv[i][n] != '\0') ++n;
    at -= n + 1;
    if (p.vm.Write(VirtAddr(at), argv[i], n + 1) != UserVmStatus::kOk) {
      FormatTo(why, cap, "no memory for the initial stack");
      return ProcStatus::kNoMemory;
    }
    ptrs[i] = at;
  }
  ptrs[argc] = 0;
  at = AlignDown(at - (argc + 1) * sizeof(uint64_t), 16);
  if (p.vm.Write(VirtAddr(at), ptrs, (argc + 1) * sizeof(uint64_t)) != UserVmStatus::kOk) {
    FormatTo(why, cap, "no memory for the initial stack");
    return ProcStatus::kNoMemory;
  }
  p.argc = argc;
  p.argv = at;
  p.sp = at;
  return ProcStatus::kOk;
}

ProcStatus Load(Process& p, const user::UserImage& program, unsigned argc, const char* const* argv, char* why,
                size_t cap) {
  const UserHalf half = ArchUserHalf();
  elf::Image image;
  const elf::ElfStatus es = elf::Parse(program.elf, program.size, elf::Limits{half.lowest, half.highest - kPageSize},
                                       &image, why, cap);
  if (es != elf::ElfStatus::kOk) return ProcStatus::kBadProgram;
  ProcStatus st = LoadSegments(p, program.elf, image, why, cap);
  if (st != ProcStatus::kOk) return st;
  const uint64_t top = half.highest - kPageSize;
  if (p.vm.SetHeap(VirtAddr(image.end)) != UserVmStatus::kOk ||
      p.vm.SetStack(VirtAddr(top), kStackLimit) != UserVmStatus::kOk) {
    FormatTo(why, cap, "the heap at 0x%lx or the stack below 0x%lx does not fit", image.end, top);
    return ProcStatus::kBadProgram;
  }
  p.entry = image.entry;
  return BuildStack(p, argc, argv, top, why, cap);
}

// Gives back everything the process holds but the Process itself, on its own thread.
void TearDown(Process& p) {
  p.lock.Lock();
  if (deps.maps == PrintMaps::kYes) {
    Print("proc: pid %lu (%s) maps:\n", p.pid, p.name);
    p.vm.Dump(PrintSink, nullptr);
  }
  p.vm.Teardown();
  p.lock.Unlock();
  CurrentThread()->space = nullptr;
  p.space.Release(ArchKernelSpace());
  ArchFreeUserTables(&p.tables);
}

// A process's thread and child lists (newest first, under its threads_lock), chained through `link`
// (ProcThread::next, Process::sibling): Push puts `item` first; Take unlinks the first item `match` accepts
// and returns it, nullptr when none does.
template <typename T>
void Push(Process& p, T*& head, T* T::*link, T* item) {
  LockGuard g(p.threads_lock);
  item->*link = head;
  head = item;
}
template <typename T, typename Match>
T* Take(Process& p, T*& head, T* T::*link, Match match) {
  LockGuard g(p.threads_lock);
  T** at = &head;
  while (*at != nullptr && !match(**at)) at = &((*at)->*link);
  T* item = *at;
  if (item != nullptr) *at = item->*link;
  return item;
}
constexpr auto kFirst = [](const auto&) { return true; };

// Frees a process the table no longer holds.
void Destroy(Process* p) {
  p->~Process();
  pool::Kfree(p);
}

// A child nobody waited for goes with its parent: the parent's thread waits for it to end. A killed
// parent's children are killed too (a kill ends the process and what it started), else a child that never
// ends would keep its parent's end waiting for good.
void ReapChildren(Process& p) {
  while (Process* c = Take(p, p.children, &Process::sibling, kFirst)) {
    if (p.end.killed && !__atomic_load_n(&c->kill, __ATOMIC_ACQUIRE)) {
      SetKillReason(*c, KillReason::kParent);
      KillThreads(*c);  // ours until Wait frees it
    }
    BlockedSleep(p);
    Wait(c);
    BlockedWake(p);
  }
}

// The calling thread becomes one of `p`'s and runs in its space.
void EnterProcess(Process& p) {
  Thread* t = CurrentThread();
  t->owner = &p;
  const IrqState irq = IrqSave();
  t->space = &p.space;
  p.space.Activate();
  IrqRestore(irq);
}

int64_t StatusOf(const UserExit& exit) { return exit.how == UserExit::kKilled ? -exit.status : exit.status; }

// Waits for the thread `t`, taken off its process's list, to end, and frees it.
void FreeThread(ProcThread* t) {
  Join(t->thread);
  t->~ProcThread();
  pool::Kfree(t);
}

// The first thread, at the process's end: waits for every other thread to end (a kill or exit has told them
// to; after thread_exit they run on), so that no CPU runs in the space any more when it is released. A
// thread started meanwhile is on the list before its starter ends, so the list stays empty once it is.
void ReapThreads(Process& p) {
  while (ProcThread* t = Take(p, p.threads, &ProcThread::next, kFirst)) FreeThread(t);
}

// A thread has left user mode for good: the process's live-thread count (pwait's "every thread waits")
// drops, and its joiner and the pwait sleepers look again.
void ThreadEnded(Process& p) {
  __atomic_fetch_sub(&p.live_threads, 1, __ATOMIC_ACQ_REL);
  p.thread_ends.WakeAll();
  PwaitKick();
}

// A thread of thread(): its kernel thread runs it in user mode until it ends; a kill that ended it ends
// the whole process. Its CPU leaves the space as it switches to the next thread.
void ThreadMain(void* arg) {
  ProcThread& t = *static_cast<ProcThread*>(arg);
  EnterProcess(t.process);
  const UserExit exit = RunUser(t.entry, t.sp, t.arg, 0);
  if (exit.how == UserExit::kKilled) EndProcess(t.process, exit);
  t.status = StatusOf(exit);
  __atomic_store_n(&t.ended, true, __ATOMIC_RELEASE);
  ThreadEnded(t.process);
}

// The first thread: it loads the program (or resumes fork's copy), runs it, and once every thread has
// ended gives everything back.
void ProcMain(void* arg) {
  Process& p = *static_cast<Process*>(arg);
  Started(p, CurrentThread());
  EnterProcess(p);
  p.end.tagged = p.tables.Tagged();
  p.end.entered_ns = NowNs();
  const UserExit exit = p.forked ? ResumeUser(p.context) : RunUser(p.entry, p.sp, p.argc, p.argv);
  if (exit.how == UserExit::kKilled) EndProcess(p, exit);
  ThreadEnded(p);
  ReapThreads(p);
  EndProcess(p, exit);  // every thread left by thread_exit: the first one's status is the process's
  p.end.left_ns = NowNs();
  if (p.end.killed) {
    Print("proc: pid %lu (%s) killed on cpu%u: %s\n", p.pid, p.name, CpuId(), p.end.why);
  } else {
    Print("proc: pid %lu (%s) exited with status %ld on cpu%u\n", p.pid, p.name, p.end.status, CpuId());
  }
  if (p.pwaits != 0) Print("proc: pid %lu (%s) waited for memory %lu times\n", p.pid, p.name, p.pwaits);
  TearDown(p);
  ReapChildren(p);
  MarkEnded(p);
  if (p.detached) {
    Unregister(p);
    Destroy(&p);
  }
}

// Before every return to user mode: a kill asked for ends the process here; else the scheduler may switch.
void BeforeReturn() {
  if (__atomic_load_n(&CurrentProcess().kill, __ATOMIC_ACQUIRE)) {
    UserExit exit;
    exit.how = UserExit::kKilled;
    FormatTo(exit.why, sizeof exit.why, "killed by %s",
             KillReasonName(KillReasonOf(CurrentProcess())));
    EndUser(exit);
  }
  PreemptIfAsked();
}

// What a process that never ran holds goes back, the Process too.
void FreeUnstarted(Process* p) {
  p->lock.Lock();
  p->vm.Teardown();
  p->lock.Unlock();
  p->space.Release(ArchKernelSpace());
  ArchFreeUserTables(&p->tables);
  Destroy(p);
}

// A Process with new tables, or nullptr when there is no memory for them.
Process* NewProcess(const char* name) {
  ArchAspace* tables = ArchNewUserTables();
  void* mem = tables != nullptr ? pool::Kmalloc(sizeof(Process)) : nullptr;
  if (mem == nullptr) {
    if (tables != nullptr) ArchFreeUserTables(tables);
    return nullptr;
  }
  const UserHalf half = ArchUserHalf();
  const uint64_t pid = __atomic_fetch_add(&next_pid, 1, __ATOMIC_RELAXED);
  return new (mem) Process(pid, name, *tables, UserVmLimits{VirtAddr(half.lowest), VirtAddr(half.highest)});
}

// A fault that found no memory sleeps on pwait (with the process's lock released: ps may look at it) until
// some is freed; false when it must give up, being killed, or cannot wait (kmem.nopwait).
bool WaitForMemory(uint64_t address) {
  return deps.wait.wait != nullptr && deps.wait.wait(deps.wait.ctx, VirtAddr(address));
}

UserFaultAction Fault(uint64_t address, UserAccess access, uint64_t rip, char* why, size_t cap) {
  Process& p = CurrentProcess();
  const Access a = access == UserAccess::kWrite  ? Access::kWrite
                   : access == UserAccess::kExec ? Access::kExec
                                                 : Access::kRead;
  FaultResult r{FaultStatus::kNoMemory, {}, 0};
  do {
    if (!PwaitTurn(p)) break;
    p.lock.Lock();
    r = p.vm.Fault(VirtAddr(address), a);
    p.lock.Unlock();
  } while (r.status == FaultStatus::kNoMemory && WaitForMemory(address));
  if (r.status == FaultStatus::kResolved) return UserFaultAction::kRetry;
  // A kill while the fault waited for memory (the OOM policy's or a request's) says so, not "no memory".
  const bool killed = r.status == FaultStatus::kNoMemory && __atomic_load_n(&p.kill, __ATOMIC_ACQUIRE);
  const size_t n =
      killed ? FormatTo(why, cap, "killed by %s at a fault on 0x%lx",
                        KillReasonName(KillReasonOf(p)), address)
             : UserVm::DescribeFault(r, VirtAddr(address), a, why, cap);
  if (n < cap) FormatTo(why + n, cap - n, " (rip 0x%lx)", rip);
  return UserFaultAction::kKill;
}

// The switch hook: the user state of the thread leaving the CPU goes into its arch slots, the arriving
// thread's comes out of them (zero for a kernel thread).
void SwitchUserState(Thread* prev, Thread* next) {
  const UserCpuState out = SaveUserState();
  prev->arch_slot[0] = out.entry_stack;
  prev->arch_slot[1] = out.unwind;
  LoadUserState(UserCpuState{next->arch_slot[0], next->arch_slot[1]});
}

}  // namespace

Process::Process(uint64_t pid, const char* program, ArchAspace& tables, const UserVmLimits& limits)
    : pid(pid),
      tables(tables),
      space(name, AddressSpace::Kind::kUser, tables),
      vm(space, deps.pages, deps.map, Nodes(), limits, images) {
  FormatTo(name, sizeof name, "%s", program);
}

const char* KillReasonName(KillReason reason) {
  switch (reason) {
    case KillReason::kRequest: return "request";
    case KillReason::kOom: return "the oom policy";
    case KillReason::kParent: return "its parent's kill";
  }
  return "?";
}

const char* ProcStatusName(ProcStatus status) {
  switch (status) {
    case ProcStatus::kOk: return "ok";
    case ProcStatus::kNoProgram: return "no such program";
    case ProcStatus::kBadProgram: return "bad program";
    case ProcStatus::kBadArgs: return "bad arguments";
    case ProcStatus::kNoMemory: return "no memory";
  }
  return "?";
}

ImageStats ImageCacheStats() { return images->Stats(); }

Process& CurrentProcess() {
  Thread* t = CurrentThread();
  KASSERT(t->owner != nullptr, "thread %s runs no process", t->name());
  return *static_cast<Process*>(t->owner);
}

void ProcInit(const ProcDeps& d) {
  deps = d;
  alignas(ImageCache) static constinit char storage[sizeof(ImageCache)] = {};
  images = new (storage) ImageCache(ImageSource{[](void*, uint64_t bytes) { return pool::Kmalloc(bytes); },
                                                [](void*, void* mem) { pool::Kfree(mem); }, nullptr});
  SetUserHooks(UserHooks{Syscall, Fault, BeforeReturn});
  SetSwitchHook(SwitchUserState);
}

namespace {

// Spawn and SpawnDetached: *pid gets the process's pid, and *out (not detached) the process, which the
// caller must Wait for. A detached process may be gone by the time Start returns.
ProcStatus Start(unsigned argc, const char* const* argv, int cpu, bool detached, Process** out, uint64_t* pid,
                 char* why, size_t cap) {
  uint64_t bytes = 0;
  for (unsigned i = 0; i < argc && i < kMaxArgs; ++i) {
    for (const char* s = argv[i]; *s != '\0'; ++s) ++bytes;
    ++bytes;
  }
  if (argc == 0 || argc > kMaxArgs || bytes > kMaxArgBytes) {
    FormatTo(why, cap, "%u arguments of %lu bytes (at most %u of %u)", argc, bytes, kMaxArgs, kMaxArgBytes);
    return ProcStatus::kBadArgs;
  }
  const user::UserImage* program = user::FindUserImage(argv[0]);
  if (program == nullptr) {
    FormatTo(why, cap, "no program called '%s' in the kernel", argv[0]);
    return ProcStatus::kNoProgram;
  }
  if (!MakeVmaNodes()) {
    FormatTo(why, cap, "no memory for the VMA cache");
    return ProcStatus::kNoMemory;
  }
  Process* p = NewProcess(argv[0]);
  if (p == nullptr) {
    FormatTo(why, cap, "no memory for the process");
    return ProcStatus::kNoMemory;
  }
  *pid = p->pid;
  p->detached = detached;
  p->lock.Lock();
  ProcStatus st = Load(*p, *program, argc, argv, why, cap);
  p->lock.Unlock();
  if (st == ProcStatus::kOk) {
    Register(*p);  // before the thread may run, end and (detached) unregister itself
    if (kernel::Spawn(p->name, ProcMain, p, cpu, p->detached ? nullptr : &p->joinable) != SchedStatus::kOk) {
      Unregister(*p);
      FormatTo(why, cap, "no memory for the thread");
      st = ProcStatus::kNoMemory;
    }
  }
  if (st != ProcStatus::kOk) {
    FreeUnstarted(p);
    return st;
  }
  if (!detached) *out = p;
  return ProcStatus::kOk;
}

}  // namespace

ProcStatus Spawn(unsigned argc, const char* const* argv, int cpu, Process** out, char* why, size_t cap) {
  uint64_t pid;
  return Start(argc, argv, cpu, false, out, &pid, why, cap);
}

ProcStatus SpawnDetached(unsigned argc, const char* const* argv, int cpu, uint64_t* pid, char* why, size_t cap) {
  return Start(argc, argv, cpu, true, nullptr, pid, why, cap);
}

ProcEnd Wait(Process* p) {
  KASSERT(!p->detached, "waiting for detached process %lu", p->pid);
  Join(p->joinable);
  const ProcEnd end = p->end;
  Unregister(*p);
  Destroy(p);
  return end;
}

void EndProcess(Process& p, const UserExit& exit) {
  bool no = false;
  if (__atomic_compare_exchange_n(&p.end_claimed, &no, true, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    p.end.killed = exit.how == UserExit::kKilled;
    p.end.status = exit.status;
    FormatTo(p.end.why, sizeof p.end.why, "%s", exit.why);
  }
  KillThreads(p);
}

void KillThreads(Process& p) {
  if (__atomic_exchange_n(&p.kill, true, __ATOMIC_ACQ_REL)) return;
  p.thread_ends.WakeAll();
  PwaitKick();  // a thread asleep on pwait sees the kill
}

int64_t StartThread(Process& p, uint64_t entry, uint64_t sp, uint64_t arg) {
  const UserHalf half = ArchUserHalf();
  if (entry < half.lowest || entry >= half.highest || sp <= half.lowest || sp > half.highest) {
    return static_cast<int64_t>(abi::Err::kInval);
  }
  if (__atomic_load_n(&p.kill, __ATOMIC_ACQUIRE)) return static_cast<int64_t>(abi::Err::kPerm);
  void* mem = pool::Kmalloc(sizeof(ProcThread));
  if (mem == nullptr) return static_cast<int64_t>(abi::Err::kNoMem);
  const uint64_t tid = __atomic_fetch_add(&next_pid, 1, __ATOMIC_RELAXED);
  auto* t = new (mem) ProcThread{tid, p, entry, sp, arg};
  char name[24];
  FormatTo(name, sizeof name, "%s.%lu", p.name, tid);
  __atomic_fetch_add(&p.live_threads, 1, __ATOMIC_ACQ_REL);
  if (kernel::Spawn(name, ThreadMain, t, kAnyCpu, &t->thread) != SchedStatus::kOk) {
    __atomic_fetch_sub(&p.live_threads, 1, __ATOMIC_ACQ_REL);
    t->~ProcThread();
    pool::Kfree(t);
    return static_cast<int64_t>(abi::Err::kNoMem);
  }
  // On the list only now, so that a failed Spawn has nothing to take back; it is there before the caller
  // returns to user mode, hence before the caller (and the process) can end.
  Push(p, p.threads, &ProcThread::next, t);
  return static_cast<int64_t>(tid);
}

int64_t JoinThread(Process& p, uint64_t tid, int64_t* status) {
  Thread* me = CurrentThread();
  ProcThread* t = Take(p, p.threads, &ProcThread::next,
                       [&](const ProcThread& other) { return other.tid == tid && other.thread != me; });
  if (t == nullptr) return static_cast<int64_t>(abi::Err::kInval);
  BlockedSleep(p);
  p.thread_ends.Sleep(
      [](void* arg) {
        const ProcThread& t = *static_cast<ProcThread*>(arg);
        return __atomic_load_n(&t.ended, __ATOMIC_ACQUIRE) || __atomic_load_n(&t.process.kill, __ATOMIC_ACQUIRE);
      },
      t);
  BlockedWake(p);
  if (!__atomic_load_n(&t->ended, __ATOMIC_ACQUIRE)) {
    // Killed first: the thread goes back on the list for the process's end to reap (so that two threads
    // joining each other still end).
    Push(p, p.threads, &ProcThread::next, t);
    return static_cast<int64_t>(abi::Err::kInval);
  }
  *status = t->status;
  FreeThread(t);
  return static_cast<int64_t>(tid);
}

// The child's space is new and no one else knows it, so taking its lock under the parent's cannot deadlock.
int64_t ForkCurrent(Process& parent) {
  Process* c = NewProcess(parent.name);
  if (c == nullptr) return static_cast<int64_t>(abi::Err::kNoMem);
  SaveSyscallContext(&c->context);
  c->forked = true;
  parent.lock.Lock();
  c->lock.Lock();
  const UserVmStatus st = parent.vm.Fork(c->vm);
  c->lock.Unlock();
  parent.lock.Unlock();
  if (st == UserVmStatus::kOk) {
    Register(*c);
    if (kernel::Spawn(c->name, ProcMain, c, kAnyCpu, &c->joinable) == SchedStatus::kOk) {
      Push(parent, parent.children, &Process::sibling, c);
      return static_cast<int64_t>(c->pid);
    }
    Unregister(*c);
  }
  FreeUnstarted(c);
  return static_cast<int64_t>(abi::Err::kNoMem);
}

int64_t WaitChild(Process& parent, uint64_t pid, int64_t* status) {
  Process* c = Take(parent, parent.children, &Process::sibling, [&](const Process& child) { return child.pid == pid; });
  if (c == nullptr) return static_cast<int64_t>(abi::Err::kInval);
  BlockedSleep(parent);
  const ProcEnd end = Wait(c);
  BlockedWake(parent);
  *status = end.killed ? -end.status : end.status;
  return static_cast<int64_t>(pid);
}

}  // namespace kmem::kernel
