// The system calls of kernel/abi/syscall.h: each checks its arguments, works on the calling process under
// its lock, and returns a result or a negated abi::Err; a bad pointer is kFault, never a kill.
#include "kernel/abi/syscall.h"
#include "kernel/proc/arch.h"
#include "kernel/proc/process.h"
#include "kernel/sched/sched.h"
#include "mm/base/format.h"
#include "mm/pool/slab.h"

namespace kmem::kernel {
namespace {

using abi::Err;

constexpr int64_t Error(Err e) { return static_cast<int64_t>(e); }

int64_t ErrorOf(UserVmStatus st) {
  switch (st) {
    case UserVmStatus::kOk: return 0;
    case UserVmStatus::kNoMemory:
    case UserVmStatus::kNoGap: return Error(Err::kNoMem);
    default: return Error(Err::kInval);
  }
}

bool ProtOf(uint64_t bits, Prot* out) {
  if ((bits & ~(abi::kProtRead | abi::kProtWrite | abi::kProtExec)) != 0) return false;
  Prot p = Prot::kRead;
  if ((bits & abi::kProtWrite) != 0) p = p | Prot::kWrite;
  if ((bits & abi::kProtExec) != 0) p = p | Prot::kExec;
  *out = p;
  return true;
}

// write(fd, buf, len): the console, in pieces of a line's size so that one Print holds each.
int64_t Write(uint64_t fd, uint64_t buf, uint64_t len) {
  if (fd != 1 && fd != 2) return Error(Err::kInval);
  char piece[128];
  for (uint64_t done = 0; done < len;) {
    const uint64_t n = len - done < sizeof piece ? len - done : sizeof piece;
    if (CopyFromUser(piece, buf + done, n) != CopyStatus::kOk) {
      return done != 0 ? static_cast<int64_t>(done) : Error(Err::kFault);  // what was written stays written
    }
    Print("%.*s", static_cast<int>(n), piece);
    done += n;
  }
  return static_cast<int64_t>(len);
}

int64_t Brk(Process& p, uint64_t addr) {
  VirtAddr now;
  p.lock.Lock();
  p.vm.Brk(VirtAddr(addr), &now);
  p.lock.Unlock();
  return static_cast<int64_t>(now.value());  // Linux's brk: the break as it is, moved or not
}

int64_t Mmap(Process& p, uint64_t hint, uint64_t len, uint64_t prot_bits) {
  Prot prot;
  if (!ProtOf(prot_bits, &prot) || len == 0) return Error(Err::kInval);
  VirtAddr at;
  p.lock.Lock();
  const UserVmStatus st = p.vm.Mmap(VirtAddr(AlignDown(hint, kPageSize)), len, prot, &at);
  p.lock.Unlock();
  return st == UserVmStatus::kOk ? static_cast<int64_t>(at.value()) : ErrorOf(st);
}

int64_t Munmap(Process& p, uint64_t addr, uint64_t len) {
  p.lock.Lock();
  const UserVmStatus st = p.vm.Munmap(VirtAddr(addr), len);
  p.lock.Unlock();
  return ErrorOf(st);
}

int64_t Mprotect(Process& p, uint64_t addr, uint64_t len, uint64_t prot_bits) {
  Prot prot;
  if (!ProtOf(prot_bits, &prot)) return Error(Err::kInval);
  p.lock.Lock();
  const UserVmStatus st = p.vm.Mprotect(VirtAddr(addr), len, prot);
  p.lock.Unlock();
  return ErrorOf(st);
}

uint32_t AbiProt(Prot p) {
  return static_cast<uint32_t>(abi::kProtRead | (Has(p, Prot::kWrite) ? abi::kProtWrite : 0) |
                               (Has(p, Prot::kExec) ? abi::kProtExec : 0));
}

// memstat(out, vmas, cap): the totals, and the first cap VMAs through a kernel buffer (at most
// kMaxMemstatVmas of them: the rest are counted, not copied).
int64_t Memstat(Process& p, uint64_t out, uint64_t vmas, uint64_t cap) {
  constexpr uint64_t kMaxMemstatVmas = 4096;
  abi::MemStat totals{};
  totals.pid = p.pid;
  p.lock.Lock();
  totals.vmas = p.vm.Stats(&totals.resident_pages, nullptr, 0);
  const UserVm::SharedText text = p.vm.Text();
  totals.age_pass = p.age_pass;
  totals.aged_pages = p.age.pages;
  totals.referenced_pages = p.age.referenced;
  totals.modified_pages = p.age.modified;
  static_assert(abi::kAgeBuckets == AgeCounts::kBuckets, "memstat's age buckets are UserVm's");
  for (unsigned b = 0; b < AgeCounts::kBuckets; ++b) totals.ages[b] = p.age.ages[b];
  p.lock.Unlock();
  const ImageStats images = ImageCacheStats();
  totals.text_pages = text.pages;
  totals.text_shared_pages = text.held;
  totals.text_users = text.users;
  totals.text_most_users = text.most_users;
  totals.images = images.images;
  totals.image_users = images.users;
  totals.image_pages = images.pages;
  uint64_t n = cap < totals.vmas ? cap : totals.vmas;
  if (n > kMaxMemstatVmas) n = kMaxMemstatVmas;
  if (n != 0) {
    auto* got = static_cast<Vma*>(pool::Kmalloc(n * sizeof(Vma)));
    auto* stats = static_cast<abi::VmaStat*>(pool::Kmalloc(n * sizeof(abi::VmaStat)));
    CopyStatus st = CopyStatus::kFault;
    if (got != nullptr && stats != nullptr) {
      p.lock.Lock();
      totals.vmas = p.vm.Stats(&totals.resident_pages, got, n);
      p.lock.Unlock();
      if (totals.vmas < n) n = totals.vmas;
      for (uint64_t i = 0; i < n; ++i) {
        stats[i] = abi::VmaStat{got[i].start.value(), got[i].end.value(), AbiProt(got[i].prot),
                                static_cast<abi::VmaKindId>(got[i].kind), got[i].resident};
      }
      st = CopyToUser(vmas, stats, n * sizeof(abi::VmaStat));
    }
    if (got != nullptr) pool::Kfree(got);
    if (stats != nullptr) pool::Kfree(stats);
    if (got == nullptr || stats == nullptr) return Error(Err::kNoMem);
    if (st != CopyStatus::kOk) return Error(Err::kFault);
  }
  totals.table_pages = ArchUserTablePages(p.tables);
  if (CopyToUser(out, &totals, sizeof totals) != CopyStatus::kOk) return Error(Err::kFault);
  return static_cast<int64_t>(totals.vmas);
}

// wait(pid, status): the child reaped whether or not its status can be written.
int64_t Wait(Process& p, uint64_t pid, uint64_t status_out) {
  int64_t status = 0;
  const int64_t r = WaitChild(p, pid, &status);
  if (r < 0 || status_out == 0) return r;
  return CopyToUser(status_out, &status, sizeof status) == CopyStatus::kOk ? r : Error(Err::kFault);
}

// join(tid, status): the thread freed whether or not its status can be written.
int64_t Join(Process& p, uint64_t tid, uint64_t status_out) {
  int64_t status = 0;
  const int64_t r = JoinThread(p, tid, &status);
  if (r < 0 || status_out == 0) return r;
  return CopyToUser(status_out, &status, sizeof status) == CopyStatus::kOk ? r : Error(Err::kFault);
}

}  // namespace

int64_t Syscall(SyscallArgs& a) {
  Process& p = CurrentProcess();
  const uint64_t* x = a.arg;
  switch (static_cast<abi::Sys>(a.number)) {
    case abi::Sys::kExit:
    case abi::Sys::kThreadExit: {
      UserExit exit;
      exit.status = static_cast<int64_t>(x[0]);
      if (static_cast<abi::Sys>(a.number) == abi::Sys::kExit) EndProcess(p, exit);  // every thread ends
      EndUser(exit);
    }
    case abi::Sys::kWrite: return Write(x[0], x[1], x[2]);
    case abi::Sys::kBrk: return Brk(p, x[0]);
    case abi::Sys::kMmap: return Mmap(p, x[0], x[1], x[2]);
    case abi::Sys::kMunmap: return Munmap(p, x[0], x[1]);
    case abi::Sys::kMprotect: return Mprotect(p, x[0], x[1], x[2]);
    case abi::Sys::kGetpid: return static_cast<int64_t>(p.pid);
    case abi::Sys::kYield: Yield(); return 0;
    case abi::Sys::kSleep: SleepMs(x[0]); return 0;
    case abi::Sys::kMemstat: return Memstat(p, x[0], x[1], x[2]);
    case abi::Sys::kFork: return ForkCurrent(p);
    case abi::Sys::kWait: return Wait(p, x[0], x[1]);
    case abi::Sys::kThread: return StartThread(p, x[0], x[1], x[2]);
    case abi::Sys::kJoin: return Join(p, x[0], x[1]);
  }
  return Error(Err::kNoSys);
}

}  // namespace kmem::kernel
