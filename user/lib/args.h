// Command-line arguments of user programs.
#pragma once

#include <stdint.h>

namespace kmem::user {

// argv[index] as a decimal number, or `fallback` when there are fewer arguments. A malformed number or one
// above `max` ends the program with "<program>: bad argument '<text>'" and status 2 (`program` rather than
// argv[0], which is whatever the caller of the program chose).
uint64_t UintArg(const char* program, int argc, char** argv, int index, uint64_t fallback, uint64_t max);

// Whether two NUL-terminated strings are equal.
bool StrEq(const char* a, const char* b);

}  // namespace kmem::user
