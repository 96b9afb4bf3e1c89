// The host's side of mm/'s environment contract (mm/base/panic.h, mm/base/format.h, mm/base/percpu.h):
// Panic prints to stderr and aborts, so a broken invariant fails the test (and death tests can match the
// message); Print writes to stdout or to the innermost live ConsoleCapture; each thread is a CPU, with an
// id of its own while it lives and interrupt state of its own.
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

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
  ~HostCpu() { cpus_in_use.fetch_and(~(uint32_t{1} << id)); }
};

thread_local bool irqs_on = true;

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
  thread_local HostCpu cpu;
  return cpu.id;
}

IrqState IrqSave() {
  const IrqState was = irqs_on ? IrqState::kWereOn : IrqState::kWereOff;
  irqs_on = false;
  return was;
}

void IrqRestore(IrqState state) { irqs_on = state == IrqState::kWereOn; }

void CpuRelax() { __builtin_ia32_pause(); }

namespace testing {

ConsoleCapture::ConsoleCapture() : previous_(current_capture) { current_capture = this; }
ConsoleCapture::~ConsoleCapture() { current_capture = previous_; }

}  // namespace testing
}  // namespace kmem
