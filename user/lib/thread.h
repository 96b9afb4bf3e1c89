// Threads of one program over the thread system call: StartThread runs fn(arg) on a new thread of the
// process, which shares all its memory; fn's return value is its thread_exit status, which Join (syscall.h)
// hands back.
#pragma once

#include <stdint.h>

namespace kmem::user {

using ThreadFn = int64_t (*)(void* arg);

// A new thread running fn(arg) on the `bytes` at `stack` (the caller's memory, 16-byte aligned, kept until
// the thread is joined); returns its tid, or the kernel's negated error.
int64_t StartThread(ThreadFn fn, void* arg, void* stack, uint64_t bytes);

}  // namespace kmem::user
