#include "mm/palloc/bit_buddy.h"

#include "mm/base/panic.h"

namespace kmem {
namespace {

uint64_t WordsOf(uint64_t nbits) { return (nbits + 63) / 64; }
uint64_t Bit(uint64_t i) { return uint64_t{1} << (i & 63); }

uint64_t TreesBytes(const BitBuddy::Geometry& g) {
  uint64_t bytes = (g.max_order + 1) * sizeof(BitTree);
  for (unsigned k = 0; k <= g.max_order; ++k) bytes += BitTree::WordsFor(g.span >> k) * 8;
  return bytes;
}

}  // namespace

uint64_t BitTree::WordsFor(uint64_t nbits) {
  uint64_t total = 0;
  uint64_t n = WordsOf(nbits);
  for (;;) {
    total += n;
    if (n <= 1) return total;
    n = WordsOf(n);
  }
}

void BitTree::Init(uint64_t nbits, uint64_t* words) {
  nbits_ = nbits;
  count_ = 0;
  levels_ = 0;
  uint64_t n = WordsOf(nbits);
  for (;;) {
    KASSERT(levels_ < kLevels, "bit tree of %lu bits is too deep", nbits);
    level_[levels_] = words;
    words_[levels_] = n;
    ++levels_;
    words += n;
    if (n <= 1) return;
    n = WordsOf(n);
  }
}

uint64_t BitTree::Set(uint64_t i) {
  for (unsigned l = 0; l < levels_; ++l, i >>= 6) {
    uint64_t& w = level_[l][i >> 6];
    uint64_t was = w;
    w = was | Bit(i);
    if (was != 0) break;  // the summaries above already say this word is non-empty
  }
  return count_++;
}

uint64_t BitTree::Clear(uint64_t i) {
  for (unsigned l = 0; l < levels_; ++l, i >>= 6) {
    uint64_t& w = level_[l][i >> 6];
    w &= ~Bit(i);
    if (w != 0) break;
  }
  return count_--;
}

uint64_t BitTree::First() const {
  uint64_t i = 0;
  for (unsigned l = levels_; l-- > 0;) i = i * 64 + __builtin_ctzll(level_[l][i]);
  return i;
}

void BitTree::Validate() const {
  uint64_t set = 0;
  for (uint64_t w = 0; w < words_[0]; ++w) set += __builtin_popcountll(level_[0][w]);
  KASSERT(set == count_, "bit tree count %lu but %lu leaves set", count_, set);
  if (nbits_ % 64 != 0) {
    uint64_t beyond = level_[0][words_[0] - 1] >> (nbits_ % 64);
    KASSERT(beyond == 0, "bit tree of %lu bits has bits set beyond its end: 0x%lx", nbits_, beyond);
  }
  for (unsigned l = 1; l < levels_; ++l) {
    for (uint64_t j = 0; j < words_[l] * 64; ++j) {
      bool summary = (level_[l][j >> 6] & Bit(j)) != 0;
      bool below = j < words_[l - 1] && level_[l - 1][j] != 0;
      KASSERT(summary == below, "bit tree level %u bit %lu says %d but the word below is 0x%lx", l, j,
              summary, j < words_[l - 1] ? level_[l - 1][j] : 0);
    }
  }
}

BitBuddy::Geometry::Geometry(Pfn base, uint64_t npages) {
  KASSERT(npages > 0, "empty bank at pfn 0x%lx", base.number());
  unsigned log = 63 - __builtin_clzll(npages);
  max_order = log < kMaxOrder ? log : kMaxOrder;
  uint64_t block = uint64_t{1} << max_order;
  origin = AlignDown(base.number(), block);
  span = AlignDown(base.number() + npages + block - 1, block) - origin;
}

uint64_t BitBuddy::MetaBytes(Pfn base, uint64_t npages) { return TreesBytes(Geometry(base, npages)); }

void BitBuddy::AddBank(Page* pages, Pfn base, uint64_t npages, void* meta) {
  KASSERT(nbanks_ < kMaxBanks, "more than %u banks", kMaxBanks);
  Geometry g(base, npages);
  Bank& bank = banks_[nbanks_];
  bank = Bank{pages, base.number(), base.number() + npages, g.origin, g.max_order,
              static_cast<BitTree*>(meta)};
  auto* words = reinterpret_cast<uint64_t*>(bank.trees + g.max_order + 1);
  for (unsigned k = 0; k <= g.max_order; ++k) {
    bank.trees[k] = BitTree();
    bank.trees[k].Init(g.span >> k, words);
    words += BitTree::WordsFor(g.span >> k);
  }
  unsigned b = nbanks_++;
  // Carve the bank into maximal naturally aligned blocks, as the merge on free would leave them.
  for (uint64_t pfn = bank.base; pfn < bank.end;) {
    unsigned k = pfn == 0 ? g.max_order : __builtin_ctzll(pfn);
    if (k > g.max_order) k = g.max_order;
    while (pfn + (uint64_t{1} << k) > bank.end) --k;
    SetBit(b, k, (pfn - bank.origin) >> k);
    free_pages_ += uint64_t{1} << k;
    pfn += uint64_t{1} << k;
  }
}

void BitBuddy::SetBit(unsigned b, unsigned order, uint64_t idx) {
  if (banks_[b].trees[order].Set(idx) == 0) {
    nonempty_[order] |= uint64_t{1} << b;
    order_mask_ |= uint64_t{1} << order;
  }
}

void BitBuddy::ClearBit(unsigned b, unsigned order, uint64_t idx) {
  if (banks_[b].trees[order].Clear(idx) == 1) {
    nonempty_[order] &= ~(uint64_t{1} << b);
    if (nonempty_[order] == 0) order_mask_ &= ~(uint64_t{1} << order);
  }
}

Page* BitBuddy::Alloc(unsigned order) {
  Page* p = AllocFromBitmaps(order);
  if (p != nullptr || !unmerged_) return p;
  MergeAll();
  return AllocFromBitmaps(order);
}

Page* BitBuddy::AllocFromBitmaps(unsigned order) {
  uint64_t orders = order_mask_ >> order << order;
  if (orders == 0) return nullptr;
  unsigned k = __builtin_ctzll(orders);
  unsigned b = __builtin_ctzll(nonempty_[k]);
  Bank& bank = banks_[b];
  uint64_t idx = bank.trees[k].First();
  ClearBit(b, k, idx);
  // Keep the lower half, free the upper half, down to the order asked for.
  while (k > order) {
    --k;
    idx <<= 1;
    SetBit(b, k, idx | 1);
  }
  free_pages_ -= uint64_t{1} << order;
  return bank.PageAt(idx << order);
}

void BitBuddy::Free(Page* head, unsigned order) {
  unsigned b = BankOf(head);
  const Bank& bank = banks_[b];
  uint64_t offset = bank.OffsetOf(head);
  KASSERT(order <= bank.max_order && IsAligned(offset, uint64_t{1} << order),
          "block of order %u at pfn 0x%lx is not a block of bank %u", order, bank.origin + offset, b);
  free_pages_ += uint64_t{1} << order;
  unmerged_ = true;
  SetBit(b, order, offset >> order);
}

void BitBuddy::MergeAll() {
  constexpr uint64_t kEven = 0x5555555555555555;
  for (unsigned b = 0; b < nbanks_; ++b) {
    const Bank& bank = banks_[b];
    // Ascending, so that blocks merged at order k can merge again at k + 1.
    for (unsigned k = 0; k < bank.max_order; ++k) {
      const BitTree& tree = bank.trees[k];
      for (uint64_t w = 0; w < (tree.nbits() + 63) / 64; ++w) {
        uint64_t word = tree.Word(w);
        for (uint64_t pairs = word & (word >> 1) & kEven; pairs != 0; pairs &= pairs - 1) {
          uint64_t idx = w * 64 + __builtin_ctzll(pairs);
          ClearBit(b, k, idx);
          ClearBit(b, k, idx + 1);
          SetBit(b, k + 1, idx >> 1);
        }
      }
    }
  }
  unmerged_ = false;
}

void BitBuddy::Validate() const {
  uint64_t free = 0;
  uint64_t order_mask = 0;
  for (unsigned b = 0; b < nbanks_; ++b) {
    const Bank& bank = banks_[b];
    for (unsigned k = 0; k < kOrders; ++k) {
      bool nonempty = k <= bank.max_order && bank.trees[k].count() != 0;
      KASSERT(nonempty == ((nonempty_[k] >> b) & 1), "bank %u order %u: non-empty mask disagrees", b, k);
      if (nonempty) order_mask |= uint64_t{1} << k;
      if (k > bank.max_order) continue;
      const BitTree& tree = bank.trees[k];
      tree.Validate();
      tree.ForEach([&](uint64_t idx) {
        uint64_t first = bank.origin + (idx << k);
        KASSERT(first >= bank.base && first + (uint64_t{1} << k) <= bank.end,
                "free block pfn 0x%lx order %u outside bank %u [0x%lx, 0x%lx)", first, k, b, bank.base,
                bank.end);
        KASSERT(unmerged_ || k == bank.max_order || !tree.Test(idx ^ 1),
                "free block pfn 0x%lx order %u and its buddy are both free after a merge pass", first, k);
        free += uint64_t{1} << k;
      });
    }
  }
  KASSERT(order_mask == order_mask_, "order mask 0x%lx, bitmaps say 0x%lx", order_mask_, order_mask);
  KASSERT(free == free_pages_, "free count %lu, bitmaps hold %lu", free_pages_, free);
}

}  // namespace kmem
