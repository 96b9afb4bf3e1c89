// printf-style formatting with no libc, shared by the kernel console, the dumps every mm/ component prints
// and the host tools, so that a table looks the same on the serial line and in a terminal.
//
// Conversions: %d %i %u %x %X %p %s %c %%; flags '-' and '0'; a field width (digits or '*'); a precision
// for %s ('.N' or '.*'); length modifiers hh h l ll z. %p prints 0x followed by the hex value.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

namespace kmem {

// Receives formatted output in pieces; `ctx` is the caller's.
using FormatSink = void (*)(void* ctx, const char* text, size_t len);

// Formats into `sink`; returns the number of characters produced.
size_t VFormat(FormatSink sink, void* ctx, const char* fmt, va_list ap);

// snprintf semantics: writes at most cap-1 characters and a terminating NUL (when cap > 0) and returns the
// length the whole output would have had.
size_t FormatTo(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
size_t VFormatTo(char* buf, size_t cap, const char* fmt, va_list ap);

// A byte count in the largest binary unit that divides it: "1G", "2M", "48K", "100B" (0 is "0B"). The
// dumps' size columns (page tables, caches). Returns what FormatTo returns.
size_t FormatSize(char* buf, size_t cap, uint64_t bytes);

// The console of the environment that links mm/: the serial line in the kernel, stdout on the host.
void Print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kmem
