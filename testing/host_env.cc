// The host's side of mm/'s environment contract (mm/base/panic.h, mm/base/format.h): Panic prints to
// stderr and aborts, so a broken invariant fails the test (and death tests can match the message); Print
// writes to stdout or to the innermost live ConsoleCapture.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "mm/base/format.h"
#include "mm/base/panic.h"
#include "testing/console_capture.h"

namespace kmem {
namespace {

testing::ConsoleCapture* current_capture = nullptr;

void StreamSink(void* ctx, const char* text, size_t len) { std::fwrite(text, 1, len, static_cast<FILE*>(ctx)); }

void CaptureSink(void* ctx, const char* text, size_t len) {
  static_cast<testing::ConsoleCapture*>(ctx)->Append(text, len);
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

namespace testing {

ConsoleCapture::ConsoleCapture() : previous_(current_capture) { current_capture = this; }
ConsoleCapture::~ConsoleCapture() { current_capture = previous_; }

}  // namespace testing
}  // namespace kmem
