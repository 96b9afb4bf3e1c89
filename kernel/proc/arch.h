// What kernel/proc needs of an architecture to run user programs, in portable terms: tables for a user
// space, the user half's bounds, entering user mode until the program ends, the hooks its traps reach, the
// per-CPU user state a thread switch carries, and the checked copies between kernel and user memory.
// arch/x86_64/user.h implements it (ring 3, SYSCALL, swapgs, SMAP-guarded copies).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/vm/aspace.h"

namespace kmem::kernel {

// The user half, [lowest, highest): what a program's VMAs may cover.
struct UserHalf {
  uint64_t lowest;
  uint64_t highest;
};
UserHalf ArchUserHalf();

// Translation tables for a new user space, or nullptr when no page is left for them; ArchFreeUserTables
// takes them back once the AddressSpace over them is released. The pages its tables hold now.
ArchAspace* ArchNewUserTables();
void ArchFreeUserTables(ArchAspace* tables);
uint64_t ArchUserTablePages(ArchAspace& tables);

// A system call as the registers bring it (kernel/abi/syscall.h's convention).
struct SyscallArgs {
  uint64_t number;
  uint64_t arg[6];
};

enum class UserAccess : uint8_t { kRead, kWrite, kExec };
const char* UserAccessName(UserAccess access);  // "read", "write", "instruction fetch"

enum class UserFaultAction : uint8_t { kRetry, kKill };

struct UserExit {
  enum How : uint8_t { kExited, kKilled } how = kExited;
  // kExited: exit's status. kKilled by an exception: its vector; by the kernel's EndUser: what it passes.
  int64_t status = 0;
  char why[160] = {};  // kKilled: the sentence that says why; "" for kExited
};

// What kernel/proc answers for user mode. All three run on the thread's kernel stack, below RunUser's
// frame, and may sleep or be preempted (the switch hook carries the per-CPU user state: SaveUserState).
struct UserHooks {
  // A system call: returns what user mode gets (a negated abi::Err for an error). Interrupts on. Ends the
  // process with EndUser (exit, or a kill it decides on).
  int64_t (*syscall)(SyscallArgs& a);
  // A page fault on `address` by `access` at `rip`, from user mode or from a checked copy on a user
  // address: kRetry once the page is mapped (demand paging), or kKill with a sentence in `why` (at most
  // `cap` bytes, NUL included) naming the address and the reason: from user mode the process is killed
  // with it, from a copy the copy returns CopyStatus::kFault instead. Interrupts as the faulting code had
  // them (on, from user mode).
  UserFaultAction (*fault)(uint64_t address, UserAccess access, uint64_t rip, char* why, size_t cap);
  // Before every return to user mode: the scheduler's preemption point. Interrupts on.
  void (*before_return)();
};
// Installs the hooks for every CPU and returns the ones they replace.
UserHooks SetUserHooks(const UserHooks& hooks);

// Enters user mode at `entry` with stack `sp` and the start-up registers (rdi, rsi on x86_64: argc, argv),
// in the space the calling CPU has loaded, and returns only when the process ends: a hook calls EndUser,
// or an exception other than a resolved page fault kills it. Runs on the calling thread's kernel stack;
// may return on another CPU. One RunUser per thread at a time.
UserExit RunUser(uint64_t entry, uint64_t sp, uint64_t arg0, uint64_t arg1);
// The user registers of a system call in progress, as the architecture keeps them (opaque here): what a
// fork's child resumes from.
struct UserContext {
  uint64_t words[24];
};
// From the system-call hook: the calling thread's user registers as the call found them.
void SaveSyscallContext(UserContext* out);
// RunUser's twin for a fork's child: enters user mode in the registers of `context` (copied) with the
// system call's result 0, and returns as RunUser does.
UserExit ResumeUser(const UserContext& context);
// Ends the process of the calling thread's RunUser, which returns `exit`; from a hook, holding no lock.
[[noreturn]] void EndUser(const UserExit& exit);

// The per-CPU state of the thread in user mode here (where entries from user mode land, where EndUser
// unwinds to). A thread switch, with interrupts off, saves the outgoing thread's and loads the incoming
// one's; a thread that never ran RunUser has the zero state.
struct UserCpuState {
  uint64_t entry_stack = 0;
  uint64_t unwind = 0;
};
UserCpuState SaveUserState();
void LoadUserState(const UserCpuState& state);

// The checked copies, the kernel's only way to user memory. A range not wholly in the user half is
// refused with kFault, nothing touched; a page fault on a user address asks the fault hook (kRetry
// resumes, kKill makes the copy return kFault, part of it maybe copied); a fault on a kernel address
// panics like any kernel fault.
enum class CopyStatus : uint8_t { kOk, kFault, kTooLong };
const char* CopyStatusName(CopyStatus status);
CopyStatus CopyFromUser(void* dst, uint64_t user_src, size_t n);
CopyStatus CopyToUser(uint64_t user_dst, const void* src, size_t n);
// The NUL-terminated string at user_src into dst[0, cap): kOk, or kTooLong (dst holds cap - 1 bytes and
// a NUL), or kFault as above.
CopyStatus CopyStringFromUser(char* dst, uint64_t user_src, size_t cap);

}  // namespace kmem::kernel
