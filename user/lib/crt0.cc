// The entry point of every user program, which defines `extern "C" int main(int argc, char** argv)`: in
// freestanding C++ main is an ordinary function, mangled unless it is declared extern "C".

#include "user/lib/syscall.h"

extern "C" {

// main's return value becomes the exit status.
[[noreturn]] void kmem_user_exit(int status) { kmem::user::Exit(status); }

// kernel/abi/syscall.h starts a program here with rdi = argc, rsi = argv and rsp 16-byte aligned: main's
// arguments are already in place, and the call's return address leaves rsp as a function expects it.
// Naked, because a compiled prologue would assume that a return address had been pushed. rbp is zeroed so
// that a frame-pointer walk ends here.
[[gnu::naked, noreturn]] void _start() {
  asm("xor %ebp, %ebp\n"
      "call main\n"
      "mov %eax, %edi\n"
      "call kmem_user_exit\n");
}

}  // extern "C"
