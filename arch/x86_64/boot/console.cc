// The kernel's side of mm/'s environment contract (mm/base/panic.h, mm/base/format.h): Print writes to the
// serial console, one call's text at a time among CPUs; Panic prints its message there and stops the
// machine with a failure status.
#include <stdarg.h>

#include "arch/x86_64/boot/qemu_exit.h"
#include "arch/x86_64/boot/serial.h"
#include "arch/x86_64/io.h"
#include "mm/base/format.h"
#include "mm/base/lock.h"
#include "mm/base/panic.h"
#include "mm/base/percpu.h"

namespace kmem {
namespace {

void SerialSink(void*, const char* text, size_t len) { boot::SerialWrite(text, len); }

// Protects the serial line's output: held for one Print, so that the lines of CPUs printing at once do not
// interleave. The lowest level: code holding any other lock may print.
constinit SpinLock console_lock("console", LockLevel::kConsole);

// How long a panicking CPU waits for the console before it prints regardless: a CPU that died holding it
// must not keep the message in.
constexpr unsigned kPanicConsoleTries = 1u << 24;

// The panicking CPU's id plus one, set by the first panic (0: none). A panic while panicking on that CPU (a
// lock check failing inside TryLock) prints without the console lock rather than recurse into it; another
// CPU's panic at the same moment stops its CPU without a word, so that the first message, the one that
// explains the others, comes out whole (two CPUs' messages would interleave on the serial line).
constinit unsigned panicking = 0;

}  // namespace

void Print(const char* fmt, ...) {
  LockGuard g(console_lock);
  va_list ap;
  va_start(ap, fmt);
  VFormat(SerialSink, nullptr, fmt, ap);
  va_end(ap);
}

void Panic(const char* fmt, ...) {
  asm volatile("cli");
  const unsigned me = CpuId() + 1;
  unsigned first = 0;
  if (!__atomic_compare_exchange_n(&panicking, &first, me, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
      first != me) {
    x86::HaltForever();  // the first panic's CPU prints its message and stops the machine
  }
  // A panic inside Print already holds the console; otherwise take it, so that the message is whole. It
  // is never released: the machine stops.
  if (first == 0 && !console_lock.HeldHere()) {
    for (unsigned i = 0; i < kPanicConsoleTries && !console_lock.TryLock(); ++i) CpuRelax();
  }
  va_list ap;
  va_start(ap, fmt);
  boot::SerialWrite("\npanic: ", 8);
  VFormat(SerialSink, nullptr, fmt, ap);
  boot::SerialWrite("\n", 1);
  va_end(ap);
  boot::QemuExit(boot::QemuStatus::kFailure);
}

}  // namespace kmem
