// Leaving the machine: QEMU's isa-debug-exit device (iobase 0xf4) ends QEMU with status (value << 1) | 1.
// kSuccess makes QEMU exit with 33 and kFailure with 35; boot/qemu.sh maps them to 0 and 1, so any other
// QEMU status (a triple fault under -no-reboot exits 0) means the kernel never reported.
#pragma once

#include <stdint.h>

namespace kmem::boot {

enum class QemuStatus : uint32_t { kSuccess = 0x10, kFailure = 0x11 };

[[noreturn]] void QemuExit(QemuStatus status);

}  // namespace kmem::boot
