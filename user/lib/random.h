// A small pseudo-random generator (xorshift64*): the same seed gives the same stream, so a failing run of
// a program can be repeated. Not for anything that needs unpredictability.
#pragma once

#include <stdint.h>

namespace kmem::user {

class Random {
 public:
  // xorshift's state must never be zero.
  explicit constexpr Random(uint64_t seed) : state_(seed != 0 ? seed : 0x9e3779b97f4a7c15) {}

  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1d;
  }

  // Uniform enough in [0, n) for n far below 2^64; n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace kmem::user
