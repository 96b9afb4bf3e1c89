// The first user program: one write, and getpid.

#include "user/lib/print.h"
#include "user/lib/syscall.h"

extern "C" int main(int, char**) {
  kmem::Print("hello: hello from user space, pid %ld\n", kmem::user::Getpid());
  return 0;
}
