// x86 port I/O and the few privileged instructions the boot path needs. Kernel-only: the host has no
// business touching I/O ports, so host code never includes this header.
#pragma once

#include <stdint.h>

namespace kmem::x86 {

inline void Outb(uint16_t port, uint8_t value) { asm volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }

inline uint8_t Inb(uint16_t port) {
  uint8_t value;
  asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

inline void Outl(uint16_t port, uint32_t value) { asm volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }

[[noreturn]] inline void HaltForever() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace kmem::x86
