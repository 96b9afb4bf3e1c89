// spin [rounds [children]]: computes without a system call for that many rounds of 2^20 steps (default 64),
// then prints. On one CPU another program finishes before it only if the kernel preempts ring 3 on its timer.
// With children it first forks that many (at most 8), which compute the same and end, and waits for them at
// its end: a tree for the monitor's kill, which must end the children with their parent.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"
#include "user/lib/syscall.h"

namespace {

void Spin(uint64_t rounds) {
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < (rounds << 20); ++i) x = x + i;
}

}  // namespace

extern "C" int main(int argc, char** argv) {
  const uint64_t rounds = kmem::user::UintArg("spin", argc, argv, 1, 64, uint64_t{1} << 20);
  const uint64_t children = kmem::user::UintArg("spin", argc, argv, 2, 0, 8);
  int64_t pids[8];
  for (uint64_t i = 0; i < children; ++i) {
    pids[i] = kmem::user::Fork();
    if (pids[i] == 0) {
      Spin(rounds);
      kmem::Print("spin: child %lu: %lu rounds done\n", i, rounds);
      return 0;
    }
    if (pids[i] < 0) {
      kmem::Print("spin: fork failed: %ld\n", pids[i]);
      return 1;
    }
  }
  Spin(rounds);
  kmem::Print("spin: %lu rounds done\n", rounds);
  for (uint64_t i = 0; i < children; ++i) {
    int64_t status = 0;
    if (kmem::user::Wait(static_cast<uint64_t>(pids[i]), &status) != pids[i] || status != 0) return 1;
  }
  return 0;
}
