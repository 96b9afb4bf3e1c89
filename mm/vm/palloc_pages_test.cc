#include "mm/vm/palloc_pages.h"

#include <gtest/gtest.h>

#include <set>

#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"
#include "testing/palloc_backends.h"
#include "testing/palloc_host.h"

namespace kmem {
namespace {

template <typename Backend>
class PallocPagesTest : public ::testing::Test {};
using Backends = testing::PallocBackends;
using BackendNames = testing::PallocBackendNames;
TYPED_TEST_SUITE(PallocPagesTest, Backends, BackendNames);

// Every frame of the bank once, then an error, and all of them back.
TYPED_TEST(PallocPagesTest, EveryFrameOnceThenNone) {
  testing::HostPalloc<TypeParam> palloc({{PhysAddr(0x100000), 5}}, 2);
  PageSource pages = PallocPages(*palloc);
  std::set<uint64_t> got;
  PhysAddr pa;
  while (pages.alloc(pages.ctx, &pa)) {
    EXPECT_TRUE(got.insert(pa.value()).second) << "0x" << std::hex << pa.value() << " handed out twice";
    EXPECT_EQ(pa.value() % kPageSize, 0u);
  }
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(palloc->FreeCount(), 0u);
  for (uint64_t p : got) pages.free(pages.ctx, PhysAddr(p));
  EXPECT_EQ(palloc->FreeCount(), 5u);
  palloc->Validate();
}

}  // namespace
}  // namespace kmem
