// spin [rounds]: computes without a system call for that many rounds of 2^20 steps (default 64), then
// prints. On one CPU another program finishes before it only if the kernel preempts ring 3 on its timer.

#include <stdint.h>

#include "user/lib/args.h"
#include "user/lib/print.h"

extern "C" int main(int argc, char** argv) {
  const uint64_t rounds = kmem::user::UintArg("spin", argc, argv, 1, 64, uint64_t{1} << 20);
  volatile uint64_t x = 0;
  for (uint64_t i = 0; i < (rounds << 20); ++i) x = x + i;
  kmem::Print("spin: %lu rounds done\n", rounds);
  return 0;
}
