// segv <null|kernel|text|heapexec>: prints "segv: trying <case>", then makes the access the kernel must kill
// it for: a read of address 0, a read of the kernel half (0xffff800000000000), a write to its own text, a
// jump into an mmap'd page without exec. If it is still alive afterwards it prints "segv: survived <case>"
// and exits 1.
//
// The accesses are inline asm, not C++: a null dereference is undefined behaviour that the compiler may
// turn into a trap instruction (a different fault) or drop.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

constexpr uint64_t kKernelAddress = 0xffff800000000000;

void Read(uint64_t addr) {
  uint64_t value;
  asm volatile("mov (%1), %0" : "=r"(value) : "r"(addr) : "memory");
}

void WriteText() {
  const uint64_t text = reinterpret_cast<uint64_t>(&WriteText);
  asm volatile("movb $0xc3, (%0)" : : "r"(text) : "memory");
}

void ExecHeap() {
  const int64_t page = kmem::user::Mmap(0, kmem::user::kPage, kmem::abi::kProtRead | kmem::abi::kProtWrite);
  if (kmem::user::IsErr(page)) kmem::user::Fail("segv: FAIL: mmap returned %ld\n", page);
  *reinterpret_cast<volatile uint8_t*>(page) = 0xc3;  // ret: it would come straight back without NX
  asm volatile("call *%0"
               :
               : "r"(page)
               : "memory", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11");
}

struct Case {
  const char* name;
  void (*run)();
};

const Case kCases[] = {
    {"null", [] { Read(0); }},
    {"kernel", [] { Read(kKernelAddress); }},
    {"text", WriteText},
    {"heapexec", ExecHeap},
};

}  // namespace

extern "C" int main(int argc, char** argv) {
  for (const Case& c : kCases) {
    if (argc == 2 && kmem::user::StrEq(argv[1], c.name)) {
      kmem::Print("segv: trying %s\n", c.name);
      c.run();
      kmem::Print("segv: survived %s\n", c.name);
      return 1;
    }
  }
  kmem::Print("segv: usage: segv <null|kernel|text|heapexec>\n");
  return 2;
}
