// threads [threads [rounds]]: user-space TLB shootdown, seen from user space. `threads` threads (default 4,
// one per CPU of the boot tests' -smp 4) share one page at a fixed address and take turns remapping it
// while the others read it. Round g's writer unmaps the page, soaks up the frame that freed with a mapping
// it fills with poison, maps the page again at the same address (mmap's hint), fills it with g, makes it
// read-only (mprotect) and publishes g; then every thread reads the page, through a TLB that held the old
// frame's translation since round g - 1. Reading anything but g is a stale entry the writer's unmap left on
// the reader's CPU. Then two forked children prove that what was taken away faults: in each, one thread
// reads (or writes) a page, another unmaps it (or makes it read-only), and the first touches it again,
// which must kill the child with the page fault; in a third a thread's write after the first thread's fork
// must copy the page rather than reach the child's; two more check exit's ends (exit in a second thread ends
// the first; thread_exit in the first leaves the process to the others, with its status). Prints "threads:
// N threads, R rounds ok ...", or "threads: stale read ..." (a stale translation was used) or "threads:
// FAIL ..." and exits 1. `threads bench T N` is the kernel's user-space shootdown benchmark (Bench).
//
// The threads meet only through words of shared memory (atomics, spinning, yielding now and then so that
// more threads than CPUs still progress), never through a system call that would reload a TLB.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"
#include "user/lib/thread.h"

namespace {

using kmem::user::Fail;
using kmem::user::IsErr;

using kmem::user::kPage;
constexpr uint64_t kWords = kPage / 8;
constexpr uint64_t kMaxThreads = 16;
constexpr uint64_t kStackBytes = 4 * kPage;
constexpr uint64_t kSoakPages = 8;
constexpr uint64_t kRw = kmem::abi::kProtRead | kmem::abi::kProtWrite;
constexpr uint64_t kPoison = 0x5ea1ed0000000000;  // what a soaked-up frame holds: never a round's value
constexpr int64_t kPageFaultKill = -14;            // wait's status for a process killed by a page fault

// The shared page, and the two soak areas rounds use in turn (far enough apart that none touches another).
constexpr uint64_t kShared = 0x10000000;
constexpr uint64_t kSoak[2] = {kShared + 16 * kPage, kShared + 32 * kPage};

uint64_t threads, rounds;
uint64_t published;          // atomic: the round whose contents the shared page holds
uint64_t done[kMaxThreads];  // atomic: done[i] is the last round thread i checked
uint64_t stale;              // atomic: stale reads seen
bool soaked[2];              // the writer's (one at a time): whether kSoak[k] is mapped

uint64_t Load(const uint64_t* w) { return __atomic_load_n(w, __ATOMIC_ACQUIRE); }
void Store(uint64_t* w, uint64_t v) { __atomic_store_n(w, v, __ATOMIC_RELEASE); }

// Spins until *w >= value, yielding now and then; with a `limit`, gives up (false) after that many spins.
bool WaitFor(const uint64_t* w, uint64_t value, uint64_t limit = 0) {
  for (uint64_t spins = 1; Load(w) < value; ++spins) {
    if (spins == limit) return false;
    if (spins % 64 == 0) {
      kmem::user::Yield();
    } else {
      __builtin_ia32_pause();
    }
  }
  return true;
}

void Expect(int64_t result, const char* call, uint64_t addr, uint64_t round) {
  if (IsErr(result)) Fail("threads: FAIL round %lu: %s of 0x%lx returned %ld\n", round, call, addr, result);
}

void Fill(uint64_t addr, uint64_t pages, uint64_t value) {
  auto* w = reinterpret_cast<volatile uint64_t*>(addr);
  for (uint64_t i = 0; i < pages * kWords; ++i) w[i] = value;
}

// Round g's writer, once every thread has checked round g - 1. Unmapping the soak area first and the shared
// page last makes the shared page's old frame the one freed last, which the soak's first fault takes.
void Remap(uint64_t g) {
  for (uint64_t i = 0; i < threads; ++i) WaitFor(&done[i], g - 1);
  const uint64_t k = g % 2;
  if (soaked[k]) Expect(kmem::user::Munmap(kSoak[k], kSoakPages * kPage), "munmap", kSoak[k], g);
  Expect(kmem::user::Munmap(kShared, kPage), "munmap", kShared, g);
  const int64_t soak = kmem::user::Mmap(kSoak[k], kSoakPages * kPage, kRw);
  Expect(soak, "mmap", kSoak[k], g);
  if (static_cast<uint64_t>(soak) != kSoak[k]) Fail("threads: FAIL round %lu: the soak area moved\n", g);
  Fill(kSoak[k], kSoakPages, kPoison | g);
  soaked[k] = true;
  const int64_t at = kmem::user::Mmap(kShared, kPage, kRw);
  Expect(at, "mmap", kShared, g);
  if (static_cast<uint64_t>(at) != kShared) {
    Fail("threads: FAIL round %lu: mmap's hint 0x%lx gave 0x%lx\n", g, kShared, at);
  }
  Fill(kShared, 1, g);
  Expect(kmem::user::Mprotect(kShared, kPage, kmem::abi::kProtRead), "mprotect", kShared, g);
  Store(&published, g);
}

void Check(uint64_t self, uint64_t g) {
  const auto* w = reinterpret_cast<const volatile uint64_t*>(kShared);
  for (uint64_t i = 0; i < kWords; ++i) {
    const uint64_t v = w[i];
    if (v == g) continue;
    if (__atomic_fetch_add(&stale, 1, __ATOMIC_RELAXED) < 4) {
      kmem::Print("threads: stale read in round %lu: thread %lu read 0x%lx at 0x%lx, expected 0x%lx%s\n", g, self,
                  v, kShared + i * 8, g,
                  (v & ~uint64_t{0xffffffff}) == kPoison ? " (the old frame, soaked up)" : " (the old frame)");
    }
    return;
  }
}

int64_t Body(void* arg) {
  const uint64_t self = reinterpret_cast<uint64_t>(arg);
  for (uint64_t g = 1; g <= rounds; ++g) {
    if (g % threads == self) {
      Remap(g);
    } else {
      WaitFor(&published, g);
    }
    Check(self, g);
    Store(&done[self], g);
  }
  return 0;
}

void* NewStack() {
  const int64_t at = kmem::user::Mmap(0, kStackBytes, kRw);
  if (IsErr(at)) Fail("threads: FAIL: mmap of a stack returned %ld\n", at);
  return reinterpret_cast<void*>(at);
}

int64_t Start(kmem::user::ThreadFn fn, void* arg) {
  const int64_t tid = kmem::user::StartThread(fn, arg, NewStack(), kStackBytes);
  if (IsErr(tid)) Fail("threads: FAIL: thread returned %ld\n", tid);
  return tid;
}

// The children: one thread touches the page at kShared (reads it, or writes it with `write_case`), the
// other takes it away (munmap, or mprotect read-only), and the first touches it again, which must fault.
enum Step : uint64_t { kTouched = 1, kTakenAway = 2 };
uint64_t step;  // atomic
bool write_case;

void Touch() {
  auto* w = reinterpret_cast<volatile uint64_t*>(kShared);
  if (write_case) {
    w[0] = 7;
  } else {
    (void)w[0];
  }
}

int64_t Toucher(void*) {
  Touch();
  Store(&step, kTouched);
  WaitFor(&step, kTakenAway);
  Touch();  // must fault, which ends the child
  kmem::Print("threads: stale %s after %s in another thread: 0x%lx still %s\n", write_case ? "write" : "read",
              write_case ? "mprotect" : "munmap", kShared, write_case ? "writable" : "mapped");
  kmem::user::Exit(1);
}

[[noreturn]] void TakeAway() {
  Expect(kmem::user::Mmap(kShared, kPage, kRw), "mmap", kShared, 0);
  Fill(kShared, 1, 1);
  Start(Toucher, nullptr);
  WaitFor(&step, kTouched);
  if (write_case) {
    Expect(kmem::user::Mprotect(kShared, kPage, kmem::abi::kProtRead), "mprotect", kShared, 0);
  } else {
    Expect(kmem::user::Munmap(kShared, kPage), "munmap", kShared, 0);
  }
  Store(&step, kTakenAway);
  for (;;) kmem::user::Yield();  // until the toucher's fault ends the process
}

[[noreturn]] void ReadAfterMunmap() {
  write_case = false;
  TakeAway();
}

[[noreturn]] void WriteAfterMprotect() {
  write_case = true;
  TakeAway();
}

// exit in a thread ends the first one too, which yields forever.
[[noreturn]] void ExitInThread() {
  Start([](void*) -> int64_t { kmem::user::Exit(3); }, nullptr);
  for (;;) kmem::user::Yield();
}

// thread_exit in the first thread leaves the process to the other, which ends it later with its own
// thread_exit: the process's status is the first thread's.
[[noreturn]] void FirstThreadExits() {
  Start(
      [](void*) -> int64_t {
        kmem::user::Sleep(20);
        return 0;
      },
      nullptr);
  kmem::user::ThreadExit(5);
}

// Runs `body` in a forked child, which must end with `want` (wait's status).
void ExpectChild(void (*body)(), int64_t want, const char* what) {
  const int64_t pid = kmem::user::Fork();
  if (IsErr(pid)) Fail("threads: FAIL: fork returned %ld\n", pid);
  if (pid == 0) {
    body();
    kmem::user::Exit(0);
  }
  int64_t status = 0;
  if (kmem::user::Wait(static_cast<uint64_t>(pid), &status) != pid) Fail("threads: FAIL: wait for pid %ld\n", pid);
  if (status != want) Fail("threads: FAIL: %s: the child ended with status %ld, not %ld\n", what, status, want);
}

// Copy-on-write: a thread writes the page at kShared (its CPU's TLB keeps the writable translation), the
// first thread forks, then the thread writes again: fork's write-protection must have reached its CPU, so
// that the write copies the page; the child, looking for a while, must read the value from before the fork.
uint64_t cow_step;  // atomic

// Seconds of spinning under TCG: far longer than the first thread takes from its fork to its store.
constexpr uint64_t kCowSpins = uint64_t{1} << 26;

int64_t CowWriter(void*) {
  auto* w = reinterpret_cast<volatile uint64_t*>(kShared);
  w[0] = 1;
  Store(&cow_step, 1);
  // The first thread's store after the fork copies the page of cow_step: a stale translation here would
  // read the frame the child shares forever.
  if (!WaitFor(&cow_step, 2, kCowSpins)) {
    kmem::Print("threads: stale read after fork in another thread: 0x%lx still reads the frame before the copy\n",
                reinterpret_cast<uint64_t>(&cow_step));
    kmem::user::Exit(1);
  }
  w[0] = 2;  // after the fork: into a copy, never into the frame the child shares
  Store(&cow_step, 3);
  return 0;
}

void WriteAfterFork() {
  Expect(kmem::user::Mmap(kShared, kPage, kRw), "mmap", kShared, 0);
  const int64_t tid = Start(CowWriter, nullptr);
  WaitFor(&cow_step, 1);
  const int64_t pid = kmem::user::Fork();
  if (IsErr(pid)) Fail("threads: FAIL: fork returned %ld\n", pid);
  const auto* w = reinterpret_cast<const volatile uint64_t*>(kShared);
  if (pid == 0) {
    for (int i = 0; i < 10; ++i) {
      kmem::user::Sleep(5);
      if (w[0] != 1) {
        kmem::Print("threads: stale write after fork in another thread: the child read %lu, not 1\n", w[0]);
        kmem::user::Exit(1);
      }
    }
    kmem::user::Exit(0);
  }
  Store(&cow_step, 2);
  int64_t status = -1;
  if (kmem::user::Join(static_cast<uint64_t>(tid), &status) != tid || status != 0 || w[0] != 2) {
    Fail("threads: FAIL: the copy-on-write writer ended with status %ld, the page holding %lu\n", status, w[0]);
  }
  if (kmem::user::Wait(static_cast<uint64_t>(pid), &status) != pid || status != 0) {
    Fail("threads: FAIL: copy-on-write: the child ended with status %ld\n", status);
  }
  Expect(kmem::user::Munmap(kShared, kPage), "munmap", kShared, 0);
}

// threads bench T N: N rounds of mmap, a write and munmap of one page by the first thread while T - 1
// others spin reading shared memory, on other CPUs as the kernel places them. The kernel's userbench
// (boot/programs.cc) times T = 2 against T = 1: the difference is the remote CPU's share of each munmap's
// shootdown.
uint64_t bench_done;  // atomic

int64_t Spinner(void*) {
  WaitFor(&bench_done, 1);
  return 0;
}

int Bench(int argc, char** argv) {
  const uint64_t n = kmem::user::UintArg("threads", argc, argv, 2, 2, kMaxThreads);
  const uint64_t count = kmem::user::UintArg("threads", argc, argv, 3, 1000, uint64_t{1} << 24);
  int64_t tids[kMaxThreads];
  for (uint64_t i = 1; i < n; ++i) tids[i] = Start(Spinner, nullptr);
  for (uint64_t i = 0; i < count; ++i) {
    Expect(kmem::user::Mmap(kShared, kPage, kRw), "mmap", kShared, i);
    *reinterpret_cast<volatile uint64_t*>(kShared) = i;
    Expect(kmem::user::Munmap(kShared, kPage), "munmap", kShared, i);
  }
  Store(&bench_done, 1);
  for (uint64_t i = 1; i < n; ++i) kmem::user::Join(static_cast<uint64_t>(tids[i]), nullptr);
  kmem::Print("threads: bench: %lu munmaps, %lu thread%s\n", count, n, n == 1 ? "" : "s");
  return 0;
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  if (argc > 1 && kmem::user::StrEq(argv[1], "bench")) return Bench(argc, argv);
  threads = kmem::user::UintArg("threads", argc, argv, 1, 4, kMaxThreads);
  rounds = kmem::user::UintArg("threads", argc, argv, 2, 200, uint64_t{1} << 20);
  if (threads < 2) Fail("threads: usage: threads [threads (2 to %lu) [rounds]]\n", kMaxThreads);
  Expect(kmem::user::Mmap(kShared, kPage, kRw), "mmap", kShared, 0);  // round 0's page: zeros
  int64_t tids[kMaxThreads];
  for (uint64_t i = 1; i < threads; ++i) tids[i] = Start(Body, reinterpret_cast<void*>(i));
  Body(nullptr);
  for (uint64_t i = 1; i < threads; ++i) {
    int64_t status = -1;
    if (kmem::user::Join(static_cast<uint64_t>(tids[i]), &status) != tids[i] || status != 0) {
      Fail("threads: FAIL: join of thread %lu (tid %ld) gave status %ld\n", i, tids[i], status);
    }
  }
  if (const uint64_t n = Load(&stale); n != 0) {
    Fail("threads: %lu stale reads in %lu rounds of %lu threads\n", n, rounds, threads);
  }
  Expect(kmem::user::Munmap(kShared, kPage), "munmap", kShared, rounds);
  ExpectChild(ReadAfterMunmap, kPageFaultKill, "a read after another thread's munmap");
  ExpectChild(WriteAfterMprotect, kPageFaultKill, "a write after another thread's mprotect");
  ExpectChild(ExitInThread, 3, "exit(3) in a second thread");
  ExpectChild(FirstThreadExits, 5, "thread_exit(5) in the first thread");
  WriteAfterFork();
  kmem::Print("threads: %lu threads, %lu rounds ok; a read after munmap and a write after mprotect in another "
              "thread faulted, a write after fork copied; exit in any thread ended them all\n",
              threads, rounds);
  return 0;
}
