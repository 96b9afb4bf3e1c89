// The system-call interface between kmem's kernel and its user programs (user/): one freestanding header
// both sides compile, so a number or a structure can never mean two things.
//
// Calling convention (x86_64, Linux's): the number in rax, arguments in rdi, rsi, rdx, r10, r8, r9, the
// `syscall` instruction; the result comes back in rax, and rcx and r11 are clobbered (SYSCALL keeps the
// return address and flags there). A result in [-4095, -1] is a negated error (Err), anything else success.
//
// A program starts at its ELF entry point with rdi = argc, rsi = argv (argv[argc] == nullptr; the strings
// and the array lie on the initial stack), rsp 16-byte aligned, every other register zero.
#pragma once

#include <stdint.h>

namespace kmem::abi {

enum class Sys : uint64_t {
  kExit = 0,      // exit(status): ends the process; never returns
  kWrite = 1,     // write(fd, buf, len) -> bytes written; fd 1 and 2 are the console
  kBrk = 2,       // brk(addr) -> the new break; brk(0) asks for the current one; the heap begins at bss's end
  kMmap = 3,      // mmap(addr hint or 0, len, prot) -> address: anonymous, private, zero-filled
  kMunmap = 4,    // munmap(addr, len) -> 0
  kMprotect = 5,  // mprotect(addr, len, prot) -> 0
  kGetpid = 6,    // getpid() -> pid
  kYield = 7,     // yield() -> 0: lets another thread run
  kSleep = 8,     // sleep(ms) -> 0
  kMemstat = 9,   // memstat(MemStat* out, VmaStat* vmas, cap) -> number of VMAs (may exceed cap; fills cap)
  kFork = 10,     // fork() -> the child's pid to the parent, 0 to the child: a copy-on-write copy of the process
  kWait = 11,     // wait(pid, int64_t* status or 0) -> pid: waits for that child to end; status = exit's status,
                  // or -(vector) when it was killed; kInval when pid is no child of the caller's
  kThread = 12,      // thread(entry, stack_top, arg) -> tid: a thread of the caller's process, sharing its memory,
                     // starts in user mode at entry with rdi = arg, rsp = stack_top, every other register zero
  kThreadExit = 13,  // thread_exit(status): ends the calling thread only; the process ends with its last
                     // thread (exit ends every thread at once); never returns
  kJoin = 14,        // join(tid, int64_t* status or 0) -> tid: waits for that thread of the process to end;
                     // status = thread_exit's; kInval when tid is the caller, the first thread or no thread
                     // of the process (or one joined already)
};
inline constexpr uint64_t kSyscalls = 15;

// Negated errors, Linux's numbers so strace-minded readers recognise them.
enum class Err : int64_t {
  kPerm = -1,     // not allowed
  kNoMem = -12,   // no memory (or no address-space gap) left
  kFault = -14,   // a pointer argument points outside the process's readable (or writable) memory
  kInval = -22,   // a bad argument: misaligned, zero-length, out of the user half, unknown flags
  kNoSys = -38,   // no such system call
};

// Protection bits of mmap and mprotect (PROT_*): read is implied by any mapping that exists.
inline constexpr uint64_t kProtRead = 1;
inline constexpr uint64_t kProtWrite = 2;
inline constexpr uint64_t kProtExec = 4;

// What a VMA holds, for memstat and the maps listing.
enum class VmaKindId : uint32_t { kText = 0, kData = 1, kBss = 2, kHeap = 3, kStack = 4, kAnon = 5 };

// One VMA as memstat reports it: [start, end), its kProt* bits, its kind, and how many of its pages are
// present (resident) now.
struct VmaStat {
  uint64_t start;
  uint64_t end;
  uint32_t prot;
  VmaKindId kind;
  uint64_t resident_pages;
};
static_assert(sizeof(VmaStat) == 32, "VmaStat is part of the user ABI");

// The buckets of MemStat::ages, by a page's refage (ageing passes in a row that found it unused).
inline constexpr uint64_t kAgeBuckets = 5;  // refage 0, 1, 2-3, 4-7, 8 and more

struct MemStat {
  uint64_t pid;
  uint64_t vmas;            // how many VMAs the process has
  uint64_t resident_pages;  // over all of them
  uint64_t table_pages;     // page-table pages its address space holds
  // Shared text (mm/vm/image.h): the pages of its text VMAs, how many of those the image cache holds (one
  // copy, mapped by every process running the program), and the fewest users any of their images has now
  // (the processes running the program; 0 when none of its text is shared) and the fewest of the most each
  // had at once (reached once, it stays: a barrier for processes that start and end at different times).
  uint64_t text_pages;
  uint64_t text_shared_pages;
  uint64_t text_users;
  uint64_t text_most_users;
  // The image cache's totals: images (a program's text segment each), their users, the pages they hold.
  uint64_t images;
  uint64_t image_users;
  uint64_t image_pages;
  // The latest ageing pass over the process (the kernel's runs ten a second): its number, 0 before the
  // first; the resident pages it looked at; those used since the pass before; those ever written; and how
  // many of them are in each age bucket.
  uint64_t age_pass;
  uint64_t aged_pages;
  uint64_t referenced_pages;
  uint64_t modified_pages;
  uint64_t ages[kAgeBuckets];
};
static_assert(sizeof(MemStat) == 160, "MemStat is part of the user ABI");

}  // namespace kmem::abi
