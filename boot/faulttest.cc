#include "boot/faulttest.h"

#include <stdint.h>

#include "boot/cmdline.h"
#include "mm/base/format.h"

namespace kmem::boot {
namespace {

const uint64_t read_only_word = 0x0123456789abcdef;
uint8_t data_code[16] = {0xc3};  // ret: harmless if the no-execute bit did not stop the call

// The accesses are inline assembly: in C++ each would be undefined behaviour the compiler may drop.
void ReadNull() {
  uint64_t v;
  asm volatile("movq (%1), %0" : "=r"(v) : "r"(uintptr_t{0}) : "memory");
}

void WriteRodata() { asm volatile("movq $0, (%0)" : : "r"(&read_only_word) : "memory"); }

void CallData() { asm volatile("call *%0" : : "r"(data_code) : "memory"); }

// Each frame holds 512 bytes the compiler must keep, and the call is not in tail position.
[[gnu::noinline]] uint64_t Recurse(uint64_t depth) {
  volatile uint8_t frame[512];
  frame[0] = static_cast<uint8_t>(depth);
  if (depth == ~uint64_t{0}) return frame[0];
  return Recurse(depth + 1) + frame[0];
}

}  // namespace

void FaultTest(const char* cmdline) {
  static constexpr struct {
    const char* word;
    void (*fault)();
  } kFaults[] = {{"kmem.fault=null", ReadNull},
                 {"kmem.fault=rodata", WriteRodata},
                 {"kmem.fault=nx", CallData},
                 {"kmem.fault=stack", [] { Recurse(0); }}};
  for (const auto& f : kFaults) {
    if (!CmdlineHas(cmdline, f.word)) continue;
    Print("faulttest: %s\n", f.word);
    f.fault();
    Print("faulttest: %s did not fault\n", f.word);
  }
}

}  // namespace kmem::boot
