// The kernel's side of mm/'s environment contract (mm/base/panic.h, mm/base/format.h): Print writes to the
// serial console, one call's text at a time among CPUs; Panic prints its message there and stops the
// machine with a failure status.
#include <stdarg.h>

#include "arch/x86_64/boot/qemu_exit.h"
#include "arch/x86_64/boot/serial.h"
#include "mm/base/format.h"
#include "mm/base/lock.h"
#include "mm/base/panic.h"

namespace kmem {
namespace {

void SerialSink(void*, const char* text, size_t len) { boot::SerialWrite(text, len); }

// Protects the serial line's output: held for one Print, so that the lines of CPUs printing at once do not
// interleave. The lowest level: code holding any other lock may print.
constinit SpinLock console_lock("console", LockLevel::kConsole);

// How long a panicking CPU waits for the console before it prints regardless: a CPU that died holding it
// must not keep the message in.
constexpr unsigned kPanicConsoleTries = 1u << 24;

// Set by the first panic: a panic while panicking (a lock check failing inside TryLock, another CPU's
// panic at the same moment) prints without the console lock rather than recurse into it.
constinit int panicking = 0;

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
  // A panic inside Print already holds the console; otherwise take it, so that the message is whole. It
  // is never released: the machine stops.
  if (__atomic_exchange_n(&panicking, 1, __ATOMIC_ACQ_REL) == 0 && !console_lock.HeldHere()) {
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
