// The host's side of mm/'s environment contract (mm/base/panic.h, mm/base/format.h, mm/base/percpu.h):
// Panic prints to stderr and aborts, so a broken invariant fails the test (and death tests can match the
// message); Print writes to stdout or to the innermost live ConsoleCapture; each thread is a CPU, with an
// id of its own while it lives and interrupt state of its own, and a cross-call reaches another thread's
// CPU between two of its interrupts-off sections, as an IPI reaches a CPU.
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"
#include "testing/console_capture.h"

namespace kmem {
namespace {

testing::ConsoleCapture* current_capture = nullptr;

void StreamSink(void* ctx, const char* text, size_t len) { std::fwrite(text, 1, len, static_cast<FILE*>(ctx)); }

void CaptureSink(void* ctx, const char* text, size_t len) {
  static_cast<testing::ConsoleCapture*>(ctx)->Append(text, len);
}

// CPU ids in use by live threads, one bit each; a thread takes the lowest free one on first use and gives
// it back when it exits, so tests may start and join any number of threads, at most kMaxCpus at a time.
std::atomic<uint32_t> cpus_in_use{0};
static_assert(kMaxCpus <= 32, "one bit a CPU");

struct HostCpu {
  unsigned id;
  HostCpu() {
    uint32_t used = cpus_in_use.load();
    do {
      id = static_cast<unsigned>(__builtin_ctz(~used));
      if (id >= kMaxCpus) Panic("more than %u host threads run mm/ code at once", kMaxCpus);
    } while (!cpus_in_use.compare_exchange_weak(used, used | (uint32_t{1} << id)));
  }
  ~HostCpu();
};

// The calling thread's interrupt flag as mm/ sees it, the CPU it runs as (its own id once it took one, -1
// before, or the CPU whose cross-call part it runs, with its interrupts off) and that CPU's flags below.
// One initial-exec TLS block, reached by %fs-relative loads as the kernel's Mach is by %gs-relative ones:
// the per-CPU fast paths of the allocators read it on every call, and the default model for a library
// compiled -fPIC goes through __tls_get_addr.
struct HostCpuState;
struct ThreadCpu {
  bool irqs_on = true;
  int cpu = -1;
  HostCpuState* state = nullptr;  // cpu's flags, once cpu is set
};
[[gnu::tls_model("initial-exec")]] constinit thread_local ThreadCpu here;

// Each CPU id's interrupts-off flag, which the thread holding the id sets for its sections, and the claim a
// cross-caller sets to run a part on that CPU. They are a Dekker pair: a section starts by setting
// irqs_off and then reading claimed, a caller claims and then reads irqs_off, so at least one sees the
// other. The section's side stays cheap (a store, a load and a compiler fence) because the caller's side
// pays for the store-load ordering of both with membarrier(2), which runs a full barrier on every thread
// of the process (folly's asymmetric barrier). Without membarrier, and under TSan (which models neither
// it nor fences), both sides use sequentially consistent operations instead.
struct alignas(64) HostCpuState {  // a line each: every IrqSave and IrqRestore writes its CPU's
  std::atomic<bool> irqs_off{false};
  std::atomic<bool> claimed{false};
};
HostCpuState cpu_state[kMaxCpus];

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
constexpr bool kTsan = __has_feature(thread_sanitizer);
#else
constexpr bool kTsan = false;
#endif

bool RegisterMembarrier() {
  if (kTsan) return false;
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}
const bool asymmetric = RegisterMembarrier();

// A thread that ends inside a section (a test that exits holding a lock) leaves its CPU with interrupts on.
HostCpu::~HostCpu() {
  cpu_state[id].irqs_off.store(false, std::memory_order_release);
  cpus_in_use.fetch_and(~(uint32_t{1} << id));
}

// The first CpuId of a thread: takes the lowest free id, which the thread's HostCpu gives back at exit.
[[gnu::noinline]] unsigned TakeCpuId() {
  thread_local HostCpu cpu;
  here.cpu = static_cast<int>(cpu.id);
  here.state = &cpu_state[cpu.id];
  return cpu.id;
}

// A section's start on `s`: returns once irqs_off is set and no cross-call part is running on this CPU.
// A claim found here is served first, as a CPU takes a pending interrupt before it turns them off.
[[gnu::always_inline]] inline void EnterIrqsOff(HostCpuState& s) {
  for (;;) {
    if (asymmetric) {
      s.irqs_off.store(true, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      s.irqs_off.store(true, std::memory_order_seq_cst);
    }
    if (!s.claimed.load(asymmetric ? std::memory_order_acquire : std::memory_order_seq_cst)) return;
    s.irqs_off.store(false, std::memory_order_release);
    while (s.claimed.load(std::memory_order_acquire)) CpuRelax();
  }
}

// Runs fn(arg) as CPU `cpu`, which another thread may hold: claims it, waits until it is outside its
// interrupts-off sections, runs the part with interrupts off, and lets the CPU go on.
void RunAs(unsigned cpu, CrossCallFn fn, void* arg) {
  HostCpuState& s = cpu_state[cpu];
  if (asymmetric) {
    s.claimed.store(true, std::memory_order_relaxed);
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  } else {
    s.claimed.store(true, std::memory_order_seq_cst);
  }
  while (s.irqs_off.load(asymmetric ? std::memory_order_acquire : std::memory_order_seq_cst)) CpuRelax();
  const ThreadCpu was = here;
  here = ThreadCpu{false, static_cast<int>(cpu), &s};
  fn(arg);
  here = was;
  s.claimed.store(false, std::memory_order_release);
}

}  // namespace

void Panic(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("panic: ", stderr);
  VFormat(StreamSink, stderr, fmt, ap);
  std::fputs("\n", stderr);
  va_end(ap);
  std::fflush(nullptr);
  std::abort();
}

void Print(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (current_capture != nullptr) {
    VFormat(CaptureSink, current_capture, fmt, ap);
  } else {
    VFormat(StreamSink, stdout, fmt, ap);
  }
  va_end(ap);
}

unsigned CpuId() {
  const int cpu = here.cpu;
  if (__builtin_expect(cpu >= 0, 1)) return static_cast<unsigned>(cpu);
  return TakeCpuId();
}

namespace {

// A section's start in general: interrupts already off, the thread's first section, no membarrier, a
// cross-call claiming this CPU.
[[gnu::noinline]] CpuIrq SaveSlow() {
  if (!here.irqs_on) return CpuIrq{.cpu = CpuId(), .irq = IrqState::kWereOff};
  here.irqs_on = false;
  if (here.state == nullptr) TakeCpuId();
  EnterIrqsOff(*here.state);
  return CpuIrq{.cpu = CpuId(), .irq = IrqState::kWereOn};
}

}  // namespace

// The common case in straight-line code (the per-CPU fast paths call it on every operation): interrupts
// on, the thread's CPU taken, membarrier present and no claim on the CPU. The rest is SaveSlow's.
CpuIrq IrqSaveCpu() {
  HostCpuState* s = here.state;
  if (__builtin_expect(s == nullptr, 0)) return SaveSlow();
  if (__builtin_expect(!here.irqs_on, 0)) return SaveSlow();
  if (__builtin_expect(!asymmetric, 0)) return SaveSlow();
  here.irqs_on = false;
  s->irqs_off.store(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (__builtin_expect(s->claimed.load(std::memory_order_acquire), 0)) {
    here.irqs_on = true;
    return SaveSlow();  // which waits for the claim's part to finish, as EnterIrqsOff does
  }
  return CpuIrq{.cpu = static_cast<unsigned>(here.cpu), .irq = IrqState::kWereOn};
}

IrqState IrqSave() { return IrqSaveCpu().irq; }

void IrqRestore(IrqState state) {
  if (state != IrqState::kWereOn) return;
  here.state->irqs_off.store(false, std::memory_order_release);
  here.irqs_on = true;
}

CpuSet OnlineCpus() { return CpuSet::All(); }

void CrossCall(CpuSet cpus, CrossCallFn fn, void* arg) {
  const unsigned me = CpuId();
  if (!here.irqs_on) Panic("cross-call from cpu %u with interrupts off", me);
  // One cross-call at a time, as one IPI vector serves them in the kernel.
  static std::mutex one_at_a_time;
  std::lock_guard<std::mutex> g(one_at_a_time);
  for (unsigned cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!cpus.Has(cpu)) continue;
    if (cpu == me) {
      const IrqState irq = IrqSave();
      fn(arg);
      IrqRestore(irq);
    } else {
      RunAs(cpu, fn, arg);
    }
  }
}

void CpuRelax() { __builtin_ia32_pause(); }

namespace testing {

ConsoleCapture::ConsoleCapture() : previous_(current_capture) { current_capture = this; }
ConsoleCapture::~ConsoleCapture() { current_capture = previous_; }

}  // namespace testing
}  // namespace kmem
