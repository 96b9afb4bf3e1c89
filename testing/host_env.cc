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

// Each CPU id's flags (arch/host/irqflags.h): the thread holding the id sets irqs_off for its
// sections, a cross-caller sets claimed to run a part on that CPU. A Dekker pair: a section sets irqs_off
// and then reads claimed, a caller claims and then reads irqs_off, so at least one sees the other. The
// section's side stays cheap (a store, a compiler fence and a load, inline in the caller) because the
// caller's side pays for the store-load ordering of both with membarrier(2), which runs a full barrier on
// every thread of the process (folly's asymmetric barrier). Without membarrier, and under TSan (which
// models neither it nor fences), both sides use sequentially consistent operations instead.
HostCpuFlags cpu_flags[kMaxCpus];

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

bool Load(const bool& flag, int order) { return __atomic_load_n(&flag, order); }
void Store(bool& flag, bool value, int order) { __atomic_store_n(&flag, value, order); }

}  // namespace

constinit thread_local HostThreadCpu host_thread_cpu;

namespace {

// Whether sections take the cheap side of the Dekker pair (HostThreadCpu::cheap_flags). Set before main.
const bool host_cheap_sections = RegisterMembarrier();

// A thread that ends inside a section (a test that exits holding a lock) leaves its CPU with interrupts on.
HostCpu::~HostCpu() {
  Store(cpu_flags[id].irqs_off, false, __ATOMIC_RELEASE);
  cpus_in_use.fetch_and(~(uint32_t{1} << id));
}

// The first CpuId of a thread: takes the lowest free id, which the thread's HostCpu gives back at exit.
[[gnu::noinline]] unsigned TakeCpuId() {
  thread_local HostCpu cpu;
  host_thread_cpu.cpu = static_cast<int>(cpu.id);
  host_thread_cpu.flags = &cpu_flags[cpu.id];
  host_thread_cpu.cheap_flags = host_cheap_sections ? host_thread_cpu.flags : nullptr;
  return cpu.id;
}

// A section's start on `f`: returns once irqs_off is set and no cross-call part is running on this CPU.
// A claim found here is served first, as a CPU takes a pending interrupt before it turns them off.
void EnterIrqsOff(HostCpuFlags& f) {
  const bool cheap = host_cheap_sections;
  for (;;) {
    if (cheap) {
      Store(f.irqs_off, true, __ATOMIC_RELAXED);
      __atomic_signal_fence(__ATOMIC_SEQ_CST);
    } else {
      Store(f.irqs_off, true, __ATOMIC_SEQ_CST);
    }
    if (!Load(f.claimed, cheap ? __ATOMIC_ACQUIRE : __ATOMIC_SEQ_CST)) return;
    Store(f.irqs_off, false, __ATOMIC_RELEASE);
    while (Load(f.claimed, __ATOMIC_ACQUIRE)) CpuRelax();
  }
}

// Runs fn(arg) as CPU `cpu`, which another thread may hold: claims it, waits until it is outside its
// interrupts-off sections, runs the part with interrupts off, and lets the CPU go on.
void RunAs(unsigned cpu, CrossCallFn fn, void* arg) {
  HostCpuFlags& f = cpu_flags[cpu];
  const bool cheap = host_cheap_sections;
  if (cheap) {
    Store(f.claimed, true, __ATOMIC_RELAXED);
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  } else {
    Store(f.claimed, true, __ATOMIC_SEQ_CST);
  }
  while (Load(f.irqs_off, cheap ? __ATOMIC_ACQUIRE : __ATOMIC_SEQ_CST)) CpuRelax();
  HostThreadCpu& here = host_thread_cpu;
  const HostThreadCpu was = here;
  here = HostThreadCpu{false, static_cast<int>(cpu), &f, nullptr};
  fn(arg);
  here = was;
  Store(f.claimed, false, __ATOMIC_RELEASE);
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
  const int cpu = host_thread_cpu.cpu;
  if (__builtin_expect(cpu >= 0, 1)) return static_cast<unsigned>(cpu);
  return TakeCpuId();
}

// Every section's start that asm/irqflags.h's inline half leaves out.
CpuIrq IrqSaveCpuSlow() {
  HostThreadCpu& here = host_thread_cpu;
  if (!here.irqs_on) return CpuIrq{.cpu = CpuId(), .irq = IrqState::kWereOff};
  here.irqs_on = false;
  if (here.flags == nullptr) TakeCpuId();
  EnterIrqsOff(*here.flags);
  return CpuIrq{.cpu = CpuId(), .irq = IrqState::kWereOn};
}

CpuSet OnlineCpus() { return CpuSet::All(); }

void CrossCall(CpuSet cpus, CrossCallFn fn, void* arg) {
  const unsigned me = CpuId();
  if (!host_thread_cpu.irqs_on) Panic("cross-call from cpu %u with interrupts off", me);
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
