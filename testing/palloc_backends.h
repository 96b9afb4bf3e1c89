// Every page-frame allocator backend as a GoogleTest type list, named by the backend, so that each typed
// suite runs over all of them: the one C++ list beside mm/palloc/backends.bzl's.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"

namespace kmem::testing {

using PallocBackends = ::testing::Types<BuddyBackend, ColourBackend>;

// TYPED_TEST_SUITE's name generator: the test names say buddy or colour instead of 0 or 1.
class PallocBackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

}  // namespace kmem::testing
