#include "user/lib/thread.h"

#include "user/lib/syscall.h"

namespace kmem::user {
namespace {

// What the new thread finds at the top of its stack; the kernel hands it over in rdi.
struct Start {
  ThreadFn fn;
  void* arg;
};

// The thread's first instruction: the kernel enters it with rsp 8 below a 16-byte boundary, as a call would.
[[noreturn]] void ThreadEntry(Start* s) { ThreadExit(s->fn(s->arg)); }

}  // namespace

int64_t StartThread(ThreadFn fn, void* arg, void* stack, uint64_t bytes) {
  const uint64_t top = (reinterpret_cast<uint64_t>(stack) + bytes) & ~uint64_t{15};
  auto* s = reinterpret_cast<Start*>(top - sizeof(Start));
  s->fn = fn;
  s->arg = arg;
  const uint64_t sp = (reinterpret_cast<uint64_t>(s) & ~uint64_t{15}) - 8;
  return Thread(reinterpret_cast<uint64_t>(&ThreadEntry), sp, reinterpret_cast<uint64_t>(s));
}

}  // namespace kmem::user
