// Differential fuzzing: one random operation stream (contiguous allocations of random orders, user pages
// of random colours, frees in random order, reference counts up and down, freepages chains) runs against
// both backends, each shadowed by a trivial bitmap of its allocated frames. Every answer is checked
// against that side's bitmap (no frame handed out twice, blocks aligned and inside a bank, "no memory"
// exactly when no free aligned block exists, free and user counts equal to the bitmap's), and Validate()
// runs along the way and at the end. The backends pick different frames, so their free sets (and later
// their answers to large requests) may diverge; each is held to its own model.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mm/palloc/buddy.h"
#include "mm/palloc/colour.h"
#include "mm/palloc/palloc.h"
#include "testing/palloc_host.h"

namespace kmem {
namespace {

using testing::BankRange;
using testing::HostPalloc;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      std::fprintf(stderr, "palloc_fuzz: " __VA_ARGS__);   \
      std::fprintf(stderr, " (%s)\n", #cond);              \
      std::abort();                                        \
    }                                                      \
  } while (0)

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint32_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t Word() { return Byte() | Byte() << 8; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// One backend and its reference bitmap.
template <typename Backend>
class Side {
 public:
  Side(const std::vector<BankRange>& banks, unsigned colours) : banks_(banks), p_(banks, colours) {
    for (const BankRange& b : banks) {
      used_.emplace_back(b.npages, false);
      free_ += b.npages;
    }
  }

  void CheckCounts(uint64_t users) {
    CHECK(p_->FreeCount() == free_ && p_->UserCount() == users, "%s: %lu free and %lu user pages, model %lu and %lu",
          Backend::kName, p_->FreeCount(), p_->UserCount(), free_, users);
  }

  Palloc<Backend>& p() { return *p_; }

  // Whether the reference bitmap has a free, aligned block of 2^order frames in some bank.
  bool ModelHasBlock(unsigned order) const {
    uint64_t size = uint64_t{1} << order;
    for (size_t b = 0; b < banks_.size(); ++b) {
      uint64_t base = Pfn::Containing(banks_[b].base).number();
      for (uint64_t i = AlignDown(base + size - 1, size) - base; i + size <= banks_[b].npages; i += size) {
        bool free = true;
        for (uint64_t j = 0; j < size && free; ++j) free = !used_[b][i + j];
        if (free) return true;
      }
    }
    return false;
  }

  // Records a block the allocator handed out: it must be aligned, inside a bank and entirely free.
  void Take(Page* head, unsigned order) {
    PhysAddr pa = p_->Pa(head);
    CHECK(pa.IsAlignedTo(kPageSize << order), "%s: pa 0x%lx of order %u misaligned", Backend::kName, pa.value(),
          order);
    size_t b = Locate(pa);
    uint64_t i = Pfn::Containing(pa) - Pfn::Containing(banks_[b].base);
    CHECK(i + (uint64_t{1} << order) <= banks_[b].npages, "%s: block 0x%lx order %u runs out of its bank",
          Backend::kName, pa.value(), order);
    for (uint64_t j = 0; j < (uint64_t{1} << order); ++j) {
      CHECK(!used_[b][i + j], "%s: pa 0x%lx handed out twice", Backend::kName, pa.value() + j * kPageSize);
      used_[b][i + j] = true;
    }
    free_ -= uint64_t{1} << order;
  }
  void Give(Page* head, unsigned order) {
    PhysAddr pa = p_->Pa(head);
    size_t b = Locate(pa);
    uint64_t i = Pfn::Containing(pa) - Pfn::Containing(banks_[b].base);
    for (uint64_t j = 0; j < (uint64_t{1} << order); ++j) used_[b][i + j] = false;
    free_ += uint64_t{1} << order;
  }

 private:
  size_t Locate(PhysAddr pa) const {
    for (size_t b = 0; b < banks_.size(); ++b) {
      if (pa >= banks_[b].base && pa - banks_[b].base < banks_[b].npages * kPageSize) return b;
    }
    CHECK(false, "pa 0x%lx outside every bank", pa.value());
    return 0;
  }

  std::vector<BankRange> banks_;
  HostPalloc<Backend> p_;
  std::vector<std::vector<bool>> used_;
  uint64_t free_ = 0;
};

// A block or user page of the stream; page[s] is null where side s answered "no memory".
// Operations run so far, so a long libFuzzer run can say how many it did: it prints the total every
// 2^24 and at exit.
uint64_t operations = 0;
void PrintOperations() { std::fprintf(stderr, "palloc_fuzz: %lu operations\n", operations); }

struct Live {
  Page* page[2];
  unsigned order;
  PageRef ref;  // 0 for contiguous blocks, the reference count of user pages
};

void Run(Input& in) {
  std::vector<BankRange> banks;
  uint64_t pfn = in.Byte() * 37;
  unsigned nbanks = 1 + in.Byte() % 3;
  for (unsigned b = 0; b < nbanks; ++b) {
    uint64_t npages = 1 + in.Word() % 2048;
    banks.push_back({Pfn(pfn).addr(), npages});
    pfn += npages + in.Byte() % 300;
  }
  if (in.Byte() & 1) std::swap(banks.front(), banks.back());  // PageInit must sort them
  unsigned colours = 1u << (in.Byte() % 7);
  Side<BuddyBackend> buddy(banks, colours);
  Side<ColourBackend> colour(banks, colours);
  std::vector<Live> live;

  // fn(side, s) on both sides; with `held`, only on the sides where that entry has a page.
  auto both = [&](auto&& fn, const Live* held = nullptr) {
    if (held == nullptr || held->page[0] != nullptr) fn(buddy, 0);
    if (held == nullptr || held->page[1] != nullptr) fn(colour, 1);
  };
  auto check_counts = [&] {
    uint64_t users[2] = {};
    for (const Live& l : live) {
      for (int s = 0; s < 2; ++s) users[s] += l.ref != 0 && l.page[s] != nullptr;
    }
    buddy.CheckCounts(users[0]);
    colour.CheckCounts(users[1]);
  };
  auto release = [&](size_t k) {
    live[k] = live.back();
    live.pop_back();
  };

  while (!in.empty()) {
    if ((++operations & ((uint64_t{1} << 24) - 1)) == 0) PrintOperations();
    uint32_t op = in.Byte() % 9;
    uint32_t arg = in.Byte();
    size_t k = live.empty() ? 0 : in.Word() % live.size();
    switch (op) {
      case 0:
      case 1: {  // a contiguous block
        unsigned order = arg % 11;
        Live l{{}, order, 0};
        both([&](auto& side, int s) {
          bool expect = side.ModelHasBlock(order);
          PageResult r = side.p().TryAllocContig(order);
          CHECK((r.status == PallocStatus::kOk) == expect, "order %u: status %d, model says %d", order,
                static_cast<int>(r.status), expect);
          if (expect) side.Take(r.page, order);
          l.page[s] = r.page;
        });
        if (l.page[0] != nullptr || l.page[1] != nullptr) live.push_back(l);
        break;
      }
      case 2:
      case 3: {  // a user page of a random colour
        VirtAddr va(uint64_t{arg} << kPageShift);
        Live l{{}, 0, 1};
        both([&](auto& side, int s) {
          bool expect = side.p().FreeCount() != 0;
          PageResult r = side.p().TryNewPage(va);
          CHECK((r.status == PallocStatus::kOk) == expect, "newpage: status %d with %lu free",
                static_cast<int>(r.status), side.p().FreeCount());
          if (expect) side.Take(r.page, 0);
          l.page[s] = r.page;
        });
        if (l.page[0] != nullptr || l.page[1] != nullptr) live.push_back(l);
        break;
      }
      case 4:
      case 5: {  // drop a block or a reference
        if (live.empty()) break;
        Live& l = live[k];
        both([&](auto& side, int s) {
          if (l.ref == 0) {
            side.p().FreeContig(l.page[s], l.order);
          } else {
            side.p().PutPage(l.page[s]);
          }
          if (l.ref <= 1) side.Give(l.page[s], l.order);
        }, &l);
        if (l.ref <= 1) {
          release(k);
        } else {
          --l.ref;
        }
        break;
      }
      case 6: {  // take a reference
        if (live.empty() || live[k].ref == 0) break;
        both([&](auto& side, int s) { side.p().Ref(live[k].page[s]); }, &live[k]);
        ++live[k].ref;
        break;
      }
      case 7: {  // freepages on a chain of user pages whose references the caller dropped
        std::vector<size_t> chain;
        for (size_t i = 0; i < live.size() && chain.size() < arg % 8; ++i) {
          if (live[i].ref != 0 && live[i].page[0] != nullptr && live[i].page[1] != nullptr) chain.push_back(i);
        }
        if (chain.empty()) break;
        both([&](auto& side, int s) {
          Page* head = nullptr;
          Page* tail = nullptr;
          for (size_t i : chain) {
            Page* p = live[i].page[s];
            p->ref = 0;
            p->next = head;
            head = p;
            if (tail == nullptr) tail = p;
            side.Give(p, 0);
          }
          side.p().FreePages(head, tail, chain.size());
        });
        for (size_t i = chain.size(); i-- > 0;) release(chain[i]);
        break;
      }
      case 8:
        both([&](auto& side, int) { side.p().Validate(); });
        break;
    }
    check_counts();
  }
  both([&](auto& side, int) { side.p().Validate(); });
  while (!live.empty()) {
    Live& l = live.back();
    both([&](auto& side, int s) {
      if (l.ref == 0) {
        side.p().FreeContig(l.page[s], l.order);
      } else {
        l.page[s]->ref = 1;
        side.p().PutPage(l.page[s]);
      }
    }, &l);
    live.pop_back();
  }
  both([&](auto& side, int) {
    CHECK(side.p().FreeCount() == side.p().TotalPages(), "%lu of %lu pages free after freeing everything",
          side.p().FreeCount(), side.p().TotalPages());
    side.p().Validate();
  });
}

}  // namespace
}  // namespace kmem

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool registered = std::atexit(kmem::PrintOperations) == 0;
  (void)registered;
  kmem::Input in(data, size);
  kmem::Run(in);
  return 0;
}
