#include "user/images.h"

#include "user/image_table.h"

namespace kmem::user {
namespace {

bool NameEq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

}  // namespace

const UserImage* FindUserImage(const char* name) {
  for (uint64_t i = 0; i < kUserImageCount; ++i) {
    if (NameEq(kUserImageTable[i].name, name)) return &kUserImageTable[i];
  }
  return nullptr;
}

const UserImage* UserImages(uint64_t* count) {
  *count = kUserImageCount;
  return kUserImageTable;
}

}  // namespace kmem::user
