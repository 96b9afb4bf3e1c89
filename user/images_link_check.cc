// Links //user:images with the kernel toolchain: an entry point that finds every image by name, so that
// none of the table is collected. Never run; images_kernel_test reads the ELF.

#include "user/images.h"

namespace {

volatile uint64_t found;

}  // namespace

extern "C" [[noreturn]] void _start() {
  uint64_t count;
  const kmem::user::UserImage* images = kmem::user::UserImages(&count);
  for (uint64_t i = 0; i < count; ++i) {
    if (kmem::user::FindUserImage(images[i].name) == &images[i]) found = found + images[i].size;
  }
  for (;;) asm volatile("hlt");
}
