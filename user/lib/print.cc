#include "user/lib/print.h"

#include <stdarg.h>
#include <stddef.h>

#include "user/lib/syscall.h"

namespace kmem {
namespace {

// Collects formatted text and writes it to fd 1 a chunk at a time.
struct Buffer {
  char text[user::kPrintChunk];
  size_t len = 0;

  void Flush() {
    if (len > 0) user::Write(1, text, len);
    len = 0;
  }
};

void Collect(void* ctx, const char* text, size_t len) {
  auto* buffer = static_cast<Buffer*>(ctx);
  for (size_t i = 0; i < len; ++i) {
    if (buffer->len == sizeof(buffer->text)) buffer->Flush();
    buffer->text[buffer->len++] = text[i];
  }
}

void VPrint(const char* fmt, va_list ap) {
  Buffer buffer;
  VFormat(Collect, &buffer, fmt, ap);
  buffer.Flush();
}

}  // namespace

void Print(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VPrint(fmt, ap);
  va_end(ap);
}

namespace user {

void PrintAge(const char* program, const abi::MemStat& s) {
  Print("%s: age: pass %lu, %lu pages: referenced %lu, modified %lu, ages 0:%lu 1:%lu 2-3:%lu 4-7:%lu 8+:%lu\n",
        program, s.age_pass, s.aged_pages, s.referenced_pages, s.modified_pages, s.ages[0], s.ages[1], s.ages[2],
        s.ages[3], s.ages[4]);
}

void Fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VPrint(fmt, ap);
  va_end(ap);
  Exit(1);
}

}  // namespace user
}  // namespace kmem
