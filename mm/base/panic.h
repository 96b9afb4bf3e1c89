// The kernel's last word and its invariant checks.
//
// Panic is declared here and defined by the environment that links mm/: the kernel prints to the serial
// console and stops the machine with a failure status (boot/), host tests print to stderr and abort
// (testing/). KASSERT stays on in every build: the invariants it guards are memory safety.
#pragma once

namespace kmem {

[[noreturn]] void Panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kmem

// Checks an invariant; on failure panics with the place, the condition and a formatted explanation that
// should carry the values that broke it.
#define KASSERT(cond, fmt, ...)                                                                 \
  do {                                                                                          \
    if (__builtin_expect(!(cond), 0)) {                                                         \
      ::kmem::Panic("%s:%d: assertion '%s' failed: " fmt, __FILE__, __LINE__,                   \
                    #cond __VA_OPT__(, ) __VA_ARGS__);                                          \
    }                                                                                           \
  } while (0)
