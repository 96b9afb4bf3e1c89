#include "user/lib/args.h"

#include "mm/base/format.h"
#include "user/lib/syscall.h"

namespace kmem::user {
namespace {

bool ParseUint(const char* text, uint64_t max, uint64_t* out) {
  if (*text == '\0') return false;
  uint64_t value = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(*p - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

}  // namespace

uint64_t UintArg(const char* program, int argc, char** argv, int index, uint64_t fallback, uint64_t max) {
  if (index >= argc) return fallback;
  uint64_t value;
  if (!ParseUint(argv[index], max, &value)) {
    Print("%s: bad argument '%s' (a number up to %lu)\n", program, argv[index], max);
    Exit(2);
  }
  return value;
}

bool StrEq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

}  // namespace kmem::user
