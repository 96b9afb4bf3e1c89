// The system calls of kernel/abi/syscall.h as functions: the number in rax, arguments in rdi, rsi, rdx,
// r10, r8, r9, `syscall`; rcx and r11 come back clobbered. Each returns the kernel's result as it is: a value
// in [-4095, -1] is a negated abi::Err (IsErr), anything else the call's result.
#pragma once

#include <stdint.h>

#include "kernel/abi/syscall.h"

namespace kmem::user {

static_assert(abi::kSyscalls == 15, "a wrapper below for every system call of kernel/abi/syscall.h");

// The page, the unit of Mmap, Munmap, Mprotect and the kernel's demand paging (x86_64's 4 KiB), and a MiB.
inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;

inline int64_t Syscall(abi::Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                       uint64_t a4 = 0, uint64_t a5 = 0) {
  register uint64_t r10 asm("r10") = a3;
  register uint64_t r8 asm("r8") = a4;
  register uint64_t r9 asm("r9") = a5;
  int64_t result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(static_cast<uint64_t>(nr)), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return result;
}

inline bool IsErr(int64_t result) { return result >= -4095 && result <= -1; }

[[noreturn]] inline void Exit(int64_t status) {
  // exit never returns; the loop only tells the compiler so without undefined behaviour.
  for (;;) Syscall(abi::Sys::kExit, static_cast<uint64_t>(status));
}

inline int64_t Write(uint64_t fd, const void* buf, uint64_t len) {
  return Syscall(abi::Sys::kWrite, fd, reinterpret_cast<uint64_t>(buf), len);
}

inline int64_t Brk(uint64_t addr) { return Syscall(abi::Sys::kBrk, addr); }

inline int64_t Mmap(uint64_t hint, uint64_t len, uint64_t prot) {
  return Syscall(abi::Sys::kMmap, hint, len, prot);
}

inline int64_t Munmap(uint64_t addr, uint64_t len) { return Syscall(abi::Sys::kMunmap, addr, len); }

inline int64_t Mprotect(uint64_t addr, uint64_t len, uint64_t prot) {
  return Syscall(abi::Sys::kMprotect, addr, len, prot);
}

inline int64_t Getpid() { return Syscall(abi::Sys::kGetpid); }

inline int64_t Yield() { return Syscall(abi::Sys::kYield); }

inline int64_t Sleep(uint64_t ms) { return Syscall(abi::Sys::kSleep, ms); }

inline int64_t Memstat(abi::MemStat* out, abi::VmaStat* vmas, uint64_t cap) {
  return Syscall(abi::Sys::kMemstat, reinterpret_cast<uint64_t>(out), reinterpret_cast<uint64_t>(vmas), cap);
}

inline int64_t Fork() { return Syscall(abi::Sys::kFork); }

inline int64_t Wait(uint64_t pid, int64_t* status) {
  return Syscall(abi::Sys::kWait, pid, reinterpret_cast<uint64_t>(status));
}

// thread(entry, stack_top, arg) as the kernel takes it; StartThread (thread.h) is the one to call.
inline int64_t Thread(uint64_t entry, uint64_t stack_top, uint64_t arg) {
  return Syscall(abi::Sys::kThread, entry, stack_top, arg);
}

[[noreturn]] inline void ThreadExit(int64_t status) {
  for (;;) Syscall(abi::Sys::kThreadExit, static_cast<uint64_t>(status));
}

inline int64_t Join(uint64_t tid, int64_t* status) {
  return Syscall(abi::Sys::kJoin, tid, reinterpret_cast<uint64_t>(status));
}

}  // namespace kmem::user
