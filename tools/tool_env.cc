// The environment mm/ expects (mm/base/panic.h, format.h, percpu.h) for the command-line tools: Print
// writes to stdout, Panic names the tool's broken invariant on stderr and aborts. A tool is one thread on
// one "CPU" with nothing to interrupt it.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem {
namespace {

void StreamSink(void* ctx, const char* text, size_t len) { std::fwrite(text, 1, len, static_cast<FILE*>(ctx)); }

}  // namespace

void Print(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VFormat(StreamSink, stdout, fmt, ap);
  va_end(ap);
}

void Panic(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fflush(stdout);
  std::fputs("panic: ", stderr);
  VFormat(StreamSink, stderr, fmt, ap);
  std::fputs("\n", stderr);
  va_end(ap);
  std::abort();
}

unsigned CpuId() { return 0; }
// No CPU flags: every section takes the slow half, which finds interrupts off.
constinit thread_local HostThreadCpu host_thread_cpu;
CpuIrq IrqSaveCpuSlow() { return CpuIrq{.cpu = 0, .irq = IrqState::kWereOff}; }
void CpuRelax() {}
CpuSet OnlineCpus() { return CpuSet::Of(0); }
void CrossCall(CpuSet cpus, CrossCallFn fn, void* arg) {
  if (cpus.Has(0)) fn(arg);
}

}  // namespace kmem
