// The kernel's side of mm/'s environment contract (mm/base/panic.h, mm/base/format.h): Print writes to the
// serial console; Panic prints its message there and stops the machine with a failure status.
#include <stdarg.h>

#include "arch/x86_64/boot/qemu_exit.h"
#include "arch/x86_64/boot/serial.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem {
namespace {

void SerialSink(void*, const char* text, size_t len) { boot::SerialWrite(text, len); }

}  // namespace

void Print(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VFormat(SerialSink, nullptr, fmt, ap);
  va_end(ap);
}

void Panic(const char* fmt, ...) {
  asm volatile("cli");
  va_list ap;
  va_start(ap, fmt);
  Print("\npanic: ");
  VFormat(SerialSink, nullptr, fmt, ap);
  Print("\n");
  va_end(ap);
  boot::QemuExit(boot::QemuStatus::kFailure);
}

}  // namespace kmem
