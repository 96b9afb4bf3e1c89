// The first user program: one write, getpid, a 10 ms sleep and a yield.

#include "user/lib/print.h"
#include "user/lib/syscall.h"

extern "C" int main(int, char**) {
  kmem::Print("hello: hello from user space, pid %ld\n", kmem::user::Getpid());
  if (kmem::user::IsErr(kmem::user::Sleep(10)) || kmem::user::IsErr(kmem::user::Yield())) {
    kmem::user::Fail("hello: sleep or yield failed\n");
  }
  return 0;
}
