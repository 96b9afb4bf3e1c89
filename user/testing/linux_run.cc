// linux_run PROGRAM [ARG...]: runs a kmem user program on the Linux host, so that the programs and their
// runtime are tested before (and apart from) the kernel. The program runs under ptrace, which turns each
// kmem system call (kernel/abi/syscall.h) into Linux's at its entry stop and fixes the result at its exit
// stop, and sets the start-up registers kmem gives (rdi = argc, rsi = argv). memstat reports the VMAs from
// /proc/PID/maps, with no resident counts. A program killed by a signal makes linux_run print
// "linux_run: PROGRAM killed by signal N" and exit 128 + N, as a shell would.

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/abi/syscall.h"

namespace {

using kmem::abi::Sys;

[[noreturn]] void Die(const char* what) {
  perror(what);
  _exit(125);
}

// The Linux call that does a kmem call's work; memstat and sleep borrow getpid and get their result at exit.
long LinuxNumber(uint64_t nr) {
  switch (static_cast<Sys>(nr)) {
    case Sys::kExit: return SYS_exit_group;
    case Sys::kWrite: return SYS_write;
    case Sys::kBrk: return SYS_brk;
    case Sys::kMmap: return SYS_mmap;
    case Sys::kMunmap: return SYS_munmap;
    case Sys::kMprotect: return SYS_mprotect;
    case Sys::kGetpid: return SYS_getpid;
    case Sys::kYield: return SYS_sched_yield;
    case Sys::kSleep: return SYS_getpid;
    case Sys::kMemstat: return SYS_getpid;
    case Sys::kFork:  // a forked child would run untraced, its kmem calls taken for Linux's: not offered
    case Sys::kWait: return -1;
  }
  return -1;  // Linux answers -ENOSYS, as kmem does
}

kmem::abi::VmaKindId KindOf(const char* perms, const char* name) {
  if (strstr(name, "[stack]") != nullptr) return kmem::abi::VmaKindId::kStack;
  if (strstr(name, "[heap]") != nullptr) return kmem::abi::VmaKindId::kHeap;
  if (perms[2] == 'x') return kmem::abi::VmaKindId::kText;
  return kmem::abi::VmaKindId::kAnon;
}

// memstat(out, vmas, cap) from /proc/PID/maps (the user half only); returns the number of VMAs.
int64_t Memstat(pid_t pid, uint64_t out, uint64_t vmas, uint64_t cap) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/maps", pid);
  FILE* maps = fopen(path, "r");
  snprintf(path, sizeof(path), "/proc/%d/mem", pid);
  const int mem = open(path, O_RDWR);
  if (maps == nullptr || mem < 0) Die(path);
  uint64_t n = 0;
  char line[512];
  while (fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long start, end;
    char perms[8] = {}, name[256] = {};
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255[^\n]", &start, &end, perms, name) < 3) continue;
    if (start >= 0x800000000000) continue;
    kmem::abi::VmaStat v = {start, end, 0, KindOf(perms, name), 0};
    v.prot = (perms[0] == 'r' ? kmem::abi::kProtRead : 0) | (perms[1] == 'w' ? kmem::abi::kProtWrite : 0) |
             (perms[2] == 'x' ? kmem::abi::kProtExec : 0);
    if (n < cap && pwrite(mem, &v, sizeof(v), static_cast<off_t>(vmas + n * sizeof(v))) != sizeof(v)) {
      return static_cast<int64_t>(kmem::abi::Err::kFault);
    }
    ++n;
  }
  const kmem::abi::MemStat stat = {static_cast<uint64_t>(pid), n, 0, 0, 0, 0, 0, 0, {}};
  const bool ok = pwrite(mem, &stat, sizeof(stat), static_cast<off_t>(out)) == sizeof(stat);
  fclose(maps);
  close(mem);
  return ok ? static_cast<int64_t>(n) : static_cast<int64_t>(kmem::abi::Err::kFault);
}

void Trace(pid_t pid, const char* program) {
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) Die("waiting for exec");
  if (ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) != 0) Die("options");
  user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) Die("getregs");
  regs.rdi = static_cast<uint64_t>(ptrace(PTRACE_PEEKDATA, pid, regs.rsp, 0));  // Linux: argc at rsp
  regs.rsi = regs.rsp + 8;
  if (ptrace(PTRACE_SETREGS, pid, 0, &regs) != 0) Die("setregs");
  bool in_call = false;
  user_regs_struct entry = {};
  int signal = 0;
  for (;;) {
    if (ptrace(PTRACE_SYSCALL, pid, 0, signal) != 0) Die("resume");
    signal = 0;
    if (waitpid(pid, &status, 0) != pid) Die("wait");
    if (WIFEXITED(status)) exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
      printf("linux_run: %s killed by signal %d\n", program, WTERMSIG(status));
      exit(128 + WTERMSIG(status));
    }
    if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
      signal = WSTOPSIG(status);  // deliver it: SIGSEGV kills the program, as kmem's kill does
      continue;
    }
    if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) Die("getregs");
    if (!in_call) {
      entry = regs;
      regs.orig_rax = static_cast<uint64_t>(LinuxNumber(regs.orig_rax));
      if (entry.orig_rax == static_cast<uint64_t>(Sys::kMmap)) {
        regs.r10 = 0x22;  // MAP_PRIVATE | MAP_ANONYMOUS
        regs.r8 = ~0ull;  // no file
        regs.r9 = 0;
      }
    } else if (entry.orig_rax == static_cast<uint64_t>(Sys::kSleep)) {
      regs.rax = 0;
    } else if (entry.orig_rax == static_cast<uint64_t>(Sys::kMemstat)) {
      regs.rax = static_cast<uint64_t>(Memstat(pid, entry.rdi, entry.rsi, entry.rdx));
    }
    in_call = !in_call;
    if (ptrace(PTRACE_SETREGS, pid, 0, &regs) != 0) Die("setregs");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: linux_run PROGRAM [ARG...]\n");
    return 2;
  }
  fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) Die("traceme");
    execv(argv[1], argv + 1);
    Die(argv[1]);
  }
  Trace(pid, argv[1]);
}
