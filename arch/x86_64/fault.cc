#include "arch/x86_64/fault.h"

#include "mm/base/format.h"

namespace kmem::x86 {

const char* ExceptionName(unsigned vector) {
  static constexpr const char* kNames[kExceptionVectors] = {
      "divide error", "debug exception", "non-maskable interrupt", "breakpoint", "overflow",
      "bound range exceeded", "invalid opcode", "device not available", "double fault",
      "coprocessor segment overrun", "invalid TSS", "segment not present", "stack-segment fault",
      "general protection fault", "page fault", "reserved exception", "x87 floating-point error",
      "alignment check", "machine check", "SIMD floating-point exception", "virtualization exception",
      "control protection exception", nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
      "hypervisor injection exception", "VMM communication exception", "security exception", nullptr};
  if (vector >= kExceptionVectors || kNames[vector] == nullptr) return "reserved exception";
  return kNames[vector];
}

bool ExceptionHasErrorCode(unsigned vector) {
  return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 ||
         vector == 30;
}

void DescribePageFaultError(uint64_t error, char* buf, size_t cap) {
  const bool present = (error & 1) != 0, write = (error & 2) != 0, user = (error & 4) != 0;
  const bool reserved = (error & 8) != 0, fetch = (error & 16) != 0, key = (error & 32) != 0;
  const char* access = fetch ? "instruction fetch from" : write ? "write to" : "read of";
  FormatTo(buf, cap, "%s %s %s%s%s", user ? "user" : "kernel", access,
           present ? "a page that forbids it" : "a not-present page",
           reserved ? ", a reserved bit set in its entry" : "", key ? ", protection key" : "");
}

void DescribeTranslation(const Translation& t, char* buf, size_t cap) {
  if (t.status != MmuStatus::kOk) {
    FormatTo(buf, cap, "not mapped");
    return;
  }
  static constexpr const char* kSizes[] = {"4K", "2M", "1G"};
  FormatTo(buf, cap, "mapped by a %s page to 0x%lx, flags %c%c%c%c%c", kSizes[static_cast<unsigned>(t.size)],
           t.pa.value(), Has(t.attrs, Attr::kUser) ? 'U' : '-', Has(t.attrs, Attr::kWrite) ? 'W' : '-',
           Has(t.attrs, Attr::kExec) ? 'X' : '-', Has(t.attrs, Attr::kGlobal) ? 'G' : '-',
           CacheFlag(t.attrs));
}

}  // namespace kmem::x86
