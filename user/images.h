// The user programs linked into the kernel image (//user:images): each program's ELF file by name, for the
// kernel's loader. The bytes are read-only data of the kernel, page-aligned.
#pragma once

#include <stdint.h>

namespace kmem::user {

struct UserImage {
  const char* name;    // the program's folder under user/: "hello", "memhog"
  const uint8_t* elf;  // the whole ELF file
  uint64_t size;       // its length in bytes
};

// The image called `name`, nullptr if none. O(number of programs).
const UserImage* FindUserImage(const char* name);

// All images, sorted by name; *count gets how many.
const UserImage* UserImages(uint64_t* count);

}  // namespace kmem::user
