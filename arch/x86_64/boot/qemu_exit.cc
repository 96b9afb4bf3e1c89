#include "arch/x86_64/boot/qemu_exit.h"

#include "arch/x86_64/io.h"

namespace kmem::boot {

void QemuExit(QemuStatus status) {
  x86::Outl(0xf4, static_cast<uint32_t>(status));
  // Without the device (real hardware, or QEMU started by hand) there is nowhere to go.
  x86::HaltForever();
}

}  // namespace kmem::boot
