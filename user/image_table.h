// The table behind images.h, defined by the source user/embed.py generates.
#pragma once

#include <stdint.h>

#include "user/images.h"

namespace kmem::user {

// Sorted by name.
extern const UserImage kUserImageTable[];
extern const uint64_t kUserImageCount;

}  // namespace kmem::user
