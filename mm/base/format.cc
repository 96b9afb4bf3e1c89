#include "mm/base/format.h"

#include <stdint.h>

namespace kmem {
namespace {

struct Spec {
  bool left = false;
  bool zero = false;
  int width = 0;
  int precision = -1;
};

class Writer {
 public:
  Writer(FormatSink sink, void* ctx) : sink_(sink), ctx_(ctx) {}

  void Put(const char* text, size_t len) {
    if (len == 0) return;
    sink_(ctx_, text, len);
    count_ += len;
  }

  void Pad(char c, int n) {
    char run[16];
    for (char& r : run) r = c;
    while (n > 0) {
      int chunk = n < 16 ? n : 16;
      Put(run, static_cast<size_t>(chunk));
      n -= chunk;
    }
  }

  // Emits `body` (with an optional sign or 0x prefix) justified in the field described by `spec`.
  void Field(const Spec& spec, const char* prefix, size_t prefix_len, const char* body, size_t len) {
    int pad = spec.width - static_cast<int>(prefix_len + len);
    if (spec.left) {
      Put(prefix, prefix_len);
      Put(body, len);
      Pad(' ', pad);
    } else if (spec.zero) {
      Put(prefix, prefix_len);
      Pad('0', pad);
      Put(body, len);
    } else {
      Pad(' ', pad);
      Put(prefix, prefix_len);
      Put(body, len);
    }
  }

  size_t count() const { return count_; }

 private:
  FormatSink sink_;
  void* ctx_;
  size_t count_ = 0;
};

// Writes the digits of v in `base` at the end of buf[24]; returns the index of the first digit.
int Digits(uint64_t v, unsigned base, bool upper, char (&buf)[24]) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  int i = 24;
  do {
    buf[--i] = digits[v % base];
    v /= base;
  } while (v != 0);
  return i;
}

enum class Length { kInt, kChar, kShort, kLong, kLongLong, kSize };

uint64_t TakeUnsigned(Length len, va_list& ap) {
  switch (len) {
    case Length::kChar: return static_cast<unsigned char>(va_arg(ap, unsigned));
    case Length::kShort: return static_cast<unsigned short>(va_arg(ap, unsigned));
    case Length::kLong: return va_arg(ap, unsigned long);
    case Length::kLongLong: return va_arg(ap, unsigned long long);
    case Length::kSize: return va_arg(ap, size_t);
    case Length::kInt: break;
  }
  return va_arg(ap, unsigned);
}

int64_t TakeSigned(Length len, va_list& ap) {
  switch (len) {
    case Length::kChar: return static_cast<signed char>(va_arg(ap, int));
    case Length::kShort: return static_cast<short>(va_arg(ap, int));
    case Length::kLong: return va_arg(ap, long);
    case Length::kLongLong: return va_arg(ap, long long);
    case Length::kSize: return static_cast<int64_t>(va_arg(ap, size_t));
    case Length::kInt: break;
  }
  return va_arg(ap, int);
}

}  // namespace

size_t VFormat(FormatSink sink, void* ctx, const char* fmt, va_list ap_in) {
  va_list ap;
  va_copy(ap, ap_in);
  Writer out(sink, ctx);
  const char* p = fmt;
  while (*p != '\0') {
    const char* run = p;
    while (*p != '\0' && *p != '%') ++p;
    out.Put(run, static_cast<size_t>(p - run));
    if (*p == '\0') break;
    ++p;  // '%'

    Spec spec;
    for (;; ++p) {
      if (*p == '-') {
        spec.left = true;
      } else if (*p == '0') {
        spec.zero = true;
      } else {
        break;
      }
    }
    if (*p == '*') {
      spec.width = va_arg(ap, int);
      if (spec.width < 0) {
        spec.left = true;
        spec.width = -spec.width;
      }
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      ++p;
      spec.precision = 0;
      if (*p == '*') {
        spec.precision = va_arg(ap, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9') spec.precision = spec.precision * 10 + (*p++ - '0');
      }
    }
    if (spec.left) spec.zero = false;

    Length len = Length::kInt;
    if (*p == 'h') {
      len = (*++p == 'h') ? (++p, Length::kChar) : Length::kShort;
    } else if (*p == 'l') {
      len = (*++p == 'l') ? (++p, Length::kLongLong) : Length::kLong;
    } else if (*p == 'z') {
      len = Length::kSize;
      ++p;
    }

    char buf[24];
    char conv = *p;
    if (conv == '\0') break;
    ++p;
    switch (conv) {
      case 'd':
      case 'i': {
        int64_t v = TakeSigned(len, ap);
        uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        int i = Digits(mag, 10, false, buf);
        out.Field(spec, "-", v < 0 ? 1 : 0, buf + i, static_cast<size_t>(24 - i));
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = TakeUnsigned(len, ap);
        int i = Digits(v, conv == 'u' ? 10 : 16, conv == 'X', buf);
        out.Field(spec, "", 0, buf + i, static_cast<size_t>(24 - i));
        break;
      }
      case 'p': {
        uint64_t v = reinterpret_cast<uintptr_t>(va_arg(ap, void*));
        int i = Digits(v, 16, false, buf);
        out.Field(spec, "0x", 2, buf + i, static_cast<size_t>(24 - i));
        break;
      }
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (s == nullptr) s = "<nil>";
        size_t n = 0;
        while (s[n] != '\0' && (spec.precision < 0 || n < static_cast<size_t>(spec.precision))) ++n;
        spec.zero = false;
        out.Field(spec, "", 0, s, n);
        break;
      }
      case 'c': {
        char c = static_cast<char>(va_arg(ap, int));
        spec.zero = false;
        out.Field(spec, "", 0, &c, 1);
        break;
      }
      default: {
        // '%%' and unknown conversions print literally, so a bad format is visible rather than fatal.
        char c[2] = {'%', conv};
        out.Put(conv == '%' ? c + 1 : c, conv == '%' ? 1 : 2);
        break;
      }
    }
  }
  va_end(ap);
  return out.count();
}

namespace {

struct Buffer {
  char* buf;
  size_t cap;
  size_t used;
};

void BufferSink(void* ctx, const char* text, size_t len) {
  auto* b = static_cast<Buffer*>(ctx);
  for (size_t i = 0; i < len; ++i) {
    if (b->cap != 0 && b->used < b->cap - 1) b->buf[b->used++] = text[i];
  }
}

}  // namespace

size_t VFormatTo(char* buf, size_t cap, const char* fmt, va_list ap) {
  Buffer b{buf, cap, 0};
  size_t n = VFormat(BufferSink, &b, fmt, ap);
  if (cap != 0) buf[b.used] = '\0';
  return n;
}

size_t FormatTo(char* buf, size_t cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = VFormatTo(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

size_t FormatSize(char* buf, size_t cap, uint64_t bytes) {
  static constexpr struct {
    unsigned shift;
    char unit;
  } kUnits[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& u : kUnits) {
    if (bytes != 0 && bytes % (uint64_t{1} << u.shift) == 0) {
      return FormatTo(buf, cap, "%lu%c", bytes >> u.shift, u.unit);
    }
  }
  return FormatTo(buf, cap, "%luB", bytes);
}

}  // namespace kmem
