// Console output for user programs. kmem::Print (mm/base/format.h, the environment's console) is defined
// here as fd 1; each call is one write of up to kPrintChunk bytes, so that the lines of programs running at
// once (the boot test's 64 memhogs) do not interleave within a line.
#pragma once

#include <stdint.h>

#include "kernel/abi/syscall.h"
#include "mm/base/format.h"

namespace kmem::user {

inline constexpr uint64_t kPrintChunk = 256;

// "PROGRAM: age: pass N, P pages: referenced R, modified M, ages 0:a 1:b 2-3:c 4-7:d 8+:e": memstat's
// ageing fields, as the kernel's own age line has them.
void PrintAge(const char* program, const abi::MemStat& stat);

// Prints and exits with status 1: a program's verdict that something it checked is wrong.
[[noreturn]] void Fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace kmem::user
