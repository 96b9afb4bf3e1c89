#include "mm/vm/vma.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace kmem {
namespace {

VmaNode NodeAt(uint64_t page, uint64_t pages = 1) {
  return VmaNode{Vma{VirtAddr(page * kPageSize), VirtAddr((page + pages) * kPageSize), Prot::kRead, VmaKind::kAnon,
                     nullptr, 0, 0, nullptr, 0},
                 nullptr, nullptr, nullptr, 0};
}

std::vector<uint64_t> Starts(const VmaTree& t) {
  std::vector<uint64_t> out;
  for (VmaNode* n = t.First(); n != nullptr; n = VmaTree::Next(n)) out.push_back(n->vma.start.value() / kPageSize);
  return out;
}

TEST(VmaTreeTest, FindsTheContainingAreaAndTheNeighbours) {
  // [2,4) [6,7) [10,14)
  VmaNode a = NodeAt(2, 2), b = NodeAt(6), c = NodeAt(10, 4);
  VmaTree t;
  t.Insert(&b);
  t.Insert(&c);
  t.Insert(&a);
  t.Validate();
  EXPECT_EQ(t.Find(VirtAddr(3 * kPageSize + 5)), &a);
  EXPECT_EQ(t.Find(VirtAddr(4 * kPageSize)), nullptr);
  EXPECT_EQ(t.Find(VirtAddr(13 * kPageSize)), &c);
  EXPECT_EQ(t.FirstEndingAbove(VirtAddr(4 * kPageSize)), &b);
  EXPECT_EQ(t.FirstEndingAbove(VirtAddr(14 * kPageSize)), nullptr);
  EXPECT_EQ(t.LastStartingBelow(VirtAddr(6 * kPageSize)), &a);
  EXPECT_EQ(t.LastStartingBelow(VirtAddr(2 * kPageSize)), nullptr);
  EXPECT_EQ(VmaTree::Prev(&b), &a);
  EXPECT_EQ(VmaTree::Next(&c), nullptr);
  t.Remove(&b);
  t.Validate();
  EXPECT_EQ(Starts(t), (std::vector<uint64_t>{2, 10}));
}

TEST(VmaTreeTest, OverlapPanicsWithBothAreas) {
  VmaNode a = NodeAt(2, 2), b = NodeAt(3);
  VmaTree t;
  t.Insert(&a);
  EXPECT_DEATH(t.Insert(&b), "VMA 0x3000-0x4000 overlaps VMA 0x2000-0x4000");
}

TEST(VmaTreeTest, ValidateCatchesAnAreaMovedOutOfOrder) {
  VmaNode a = NodeAt(2), b = NodeAt(4), c = NodeAt(6);
  VmaTree t;
  t.Insert(&a);
  t.Insert(&b);
  t.Insert(&c);
  c.vma.start = VirtAddr(1 * kPageSize);  // c is b's right child, now below b
  EXPECT_DEATH(t.Validate(), "is not below its right subtree");
}

// Random inserts and removes against a sorted vector; the height stays within AVL's bound.
TEST(VmaTreeTest, RandomInsertsAndRemovesStayBalancedAndSorted) {
  constexpr uint64_t kN = 5000;
  std::vector<VmaNode> nodes(kN);
  for (uint64_t i = 0; i < kN; ++i) nodes[i] = NodeAt(2 * i);
  std::vector<uint64_t> order(kN);
  for (uint64_t i = 0; i < kN; ++i) order[i] = i;
  std::mt19937_64 rng(14);
  std::shuffle(order.begin(), order.end(), rng);
  VmaTree t;
  std::vector<uint64_t> in;
  for (uint64_t round = 0; round < 3; ++round) {
    for (uint64_t i : order) {
      if (std::find(in.begin(), in.end(), i) != in.end()) continue;
      t.Insert(&nodes[i]);
      in.push_back(i);
    }
    std::shuffle(in.begin(), in.end(), rng);
    while (in.size() > kN / 3) {
      t.Remove(&nodes[in.back()]);
      in.pop_back();
    }
    t.Validate();
    std::vector<uint64_t> want;
    for (uint64_t i : in) want.push_back(2 * i);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(Starts(t), want);
    EXPECT_EQ(t.size(), in.size());
    for (uint64_t i = 0; i < kN; ++i) {
      bool present = std::find(in.begin(), in.end(), i) != in.end();
      EXPECT_EQ(t.Find(VirtAddr(2 * i * kPageSize + 7)), present ? &nodes[i] : nullptr);
    }
  }
  while (VmaNode* n = t.First()) t.Remove(n);
  EXPECT_TRUE(t.empty());
}

}  // namespace
}  // namespace kmem
