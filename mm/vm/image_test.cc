#include "mm/vm/image.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "mm/vm/user_vm.h"
#include "testing/fake_aspace.h"
#include "testing/user_vm_host.h"

namespace kmem {
namespace {

constexpr uint64_t kPage = kPageSize;
constexpr uint64_t kLo = 0x10000, kHi = 0x800000000000;
constexpr uint64_t kText = 0x400000;
constexpr uint64_t kTextPages = 3;

// Images' memory from malloc, counted, with a budget that makes it run dry.
class ImageMemory {
 public:
  ImageSource source() { return ImageSource{&Alloc, &Free, this}; }
  long outstanding() const { return out_; }
  void set_budget(long n) { budget_ = n; }

 private:
  static void* Alloc(void* ctx, uint64_t bytes) {
    auto& self = *static_cast<ImageMemory*>(ctx);
    if (self.budget_ == 0) return nullptr;
    if (self.budget_ > 0) --self.budget_;
    ++self.out_;
    return std::malloc(bytes);
  }
  static void Free(void* ctx, void* mem) {
    --static_cast<ImageMemory*>(ctx)->out_;
    std::free(mem);
  }
  long out_ = 0;
  long budget_ = -1;
};

// A program's text image, and processes running it: each a UserVm over its own fake tables, sharing the
// test's pages, nodes and image cache. At the end every page, node and image must be back.
class ImageTest : public ::testing::Test {
 protected:
  struct Proc {
    Proc(ImageTest& t, const char* name)
        : space(name, AddressSpace::Kind::kUser, arch),
          vm(space, t.pages_.source(), t.arena_.direct_map(), t.nodes_.source(),
             UserVmLimits{VirtAddr(kLo), VirtAddr(kHi)}, &t.cache_) {}
    testing::FakeArchAspace arch;
    AddressSpace space;
    UserVm vm;
  };

  ImageTest() : arena_(PhysAddr(0x40000000), 16 << 20), pages_(arena_), cache_(memory_.source()) {
    image_.resize(kTextPages * kPage - 100);  // the last page ends in zeroes
    for (size_t i = 0; i < image_.size(); ++i) image_[i] = static_cast<uint8_t>(i * 13 + 5);
    free_before_ = pages_.palloc().FreeCount();
  }
  ~ImageTest() override {
    for (auto& p : procs_) p->vm.Teardown();
    procs_.clear();
    EXPECT_EQ(cache_.Stats().images, 0u);
    EXPECT_EQ(memory_.outstanding(), 0);
    EXPECT_EQ(nodes_.outstanding(), 0u);
    EXPECT_EQ(pages_.palloc().FreeCount(), free_before_);
  }

  // A process with the program's text loaded (r-x).
  Proc& Run(const char* name) {
    procs_.push_back(std::make_unique<Proc>(*this, name));
    Proc& p = *procs_.back();
    EXPECT_EQ(p.vm.AddImage(VirtAddr(kText), kTextPages * kPage, Prot::kExec, VmaKind::kText, image_.data(),
                            image_.size()),
              UserVmStatus::kOk);
    return p;
  }
  void Exit(Proc& p) {
    p.vm.Teardown();
    for (auto it = procs_.begin(); it != procs_.end(); ++it) {
      if (it->get() == &p) {
        procs_.erase(it);
        return;
      }
    }
  }
  static VmMapping In(Proc& p, uint64_t va) {
    VmMapping m{};
    EXPECT_EQ(p.space.Query(VirtAddr(va), &m), VmStatus::kOk) << std::hex << va;
    return m;
  }
  uint64_t Used() { return free_before_ - pages_.palloc().FreeCount(); }
  unsigned Refs(PhysAddr pa) { return pages_.palloc().Refs(pages_.palloc().PageOf(pa)); }
  const uint8_t* Bytes(PhysAddr pa) { return arena_.direct_map().Kaddr<uint8_t>(pa); }
  // Whether the page at pa holds the image's page `index` (zero past its bytes).
  bool HoldsImagePage(PhysAddr pa, uint64_t index) {
    const uint8_t* b = Bytes(pa);
    for (uint64_t i = 0; i < kPage; ++i) {
      const uint64_t at = index * kPage + i;
      if (b[i] != (at < image_.size() ? image_[at] : 0)) return false;
    }
    return true;
  }

  testing::PhysArena arena_;
  testing::HostUserPages pages_;
  testing::VmaNodePool nodes_;
  ImageMemory memory_;
  ImageCache cache_;
  std::vector<uint8_t> image_;
  uint64_t free_before_;
  std::vector<std::unique_ptr<Proc>> procs_;
};

// Two processes running one program are two users of one image; the first fault of a page fills it (one
// page), the second process's maps that same page read-only, no page more: three references (the image's
// and two mappings').
TEST_F(ImageTest, TheFirstFaultFillsAPageAndTheSecondProcessMapsTheSameOne) {
  Proc& a = Run("a");
  Proc& b = Run("b");
  EXPECT_EQ(cache_.Stats().images, 1u);
  EXPECT_EQ(cache_.Stats().users, 2u);
  ASSERT_EQ(a.vm.Fault(VirtAddr(kText + kPage), Access::kExec).status, FaultStatus::kResolved);
  EXPECT_EQ(Used(), 1u);
  EXPECT_EQ(cache_.Stats().pages, 1u);
  ASSERT_EQ(b.vm.Fault(VirtAddr(kText + kPage + 8), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_EQ(Used(), 1u) << "the second process copied the page";
  const VmMapping ma = In(a, kText + kPage), mb = In(b, kText + kPage);
  EXPECT_EQ(ma.pa, mb.pa);
  EXPECT_EQ(ma.prot, Prot::kExec);
  EXPECT_EQ(mb.prot, Prot::kExec);
  EXPECT_EQ(Refs(ma.pa), 3u);
  EXPECT_TRUE(HoldsImagePage(ma.pa, 1));
  a.vm.Validate();
  b.vm.Validate();
}

// Every text page touched by every process: the images hold one copy, each process's Text() says all its
// text pages are held and how many use it.
TEST_F(ImageTest, TextStatsCountTheUsersAndTheSharedPages) {
  constexpr unsigned kProcs = 4;
  for (unsigned i = 0; i < kProcs; ++i) {
    Proc& p = Run("p");
    for (uint64_t page = 0; page < kTextPages; ++page) {
      ASSERT_EQ(p.vm.Fault(VirtAddr(kText + page * kPage), Access::kRead).status, FaultStatus::kResolved);
    }
  }
  EXPECT_EQ(Used(), kTextPages);
  const ImageStats s = cache_.Stats();
  EXPECT_EQ(s.images, 1u);
  EXPECT_EQ(s.users, kProcs);
  EXPECT_EQ(s.pages, kTextPages);
  const UserVm::SharedText t = procs_[0]->vm.Text();
  EXPECT_EQ(t.pages, kTextPages);
  EXPECT_EQ(t.held, kTextPages);
  EXPECT_EQ(t.users, kProcs);
  EXPECT_EQ(t.most_users, kProcs);
  for (uint64_t page = 0; page < kTextPages; ++page) {
    EXPECT_TRUE(HoldsImagePage(In(*procs_[kProcs - 1], kText + page * kPage).pa, page));
  }
  Exit(*procs_[0]);
  const UserVm::SharedText after = procs_[0]->vm.Text();
  EXPECT_EQ(after.users, kProcs - 1);
  EXPECT_EQ(after.most_users, kProcs) << "the most users at once went down with an exit";
}

// The image's pages stay while any user does, whichever exits first, and the last user's exit gives each
// back exactly once (the fixture's free count; a second put would trip palloc's double-free panic).
TEST_F(ImageTest, TheLastUserFreesEveryPageOnce) {
  Proc& a = Run("a");
  Proc& b = Run("b");
  for (uint64_t page = 0; page < kTextPages; ++page) {
    ASSERT_EQ(a.vm.Fault(VirtAddr(kText + page * kPage), Access::kRead).status, FaultStatus::kResolved);
  }
  ASSERT_EQ(b.vm.Fault(VirtAddr(kText), Access::kRead).status, FaultStatus::kResolved);
  const PhysAddr first = In(b, kText).pa;
  Exit(a);
  EXPECT_EQ(Used(), kTextPages) << "the image gave its pages back while b still uses it";
  EXPECT_EQ(Refs(first), 2u);
  EXPECT_EQ(cache_.Stats().users, 1u);
  // A page a never touched is still filled for b from the image's pages a left.
  ASSERT_EQ(b.vm.Fault(VirtAddr(kText + 2 * kPage), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_EQ(Used(), kTextPages);
  Exit(b);
  EXPECT_EQ(Used(), 0u);
  EXPECT_EQ(cache_.Stats().images, 0u);
  // The program runs again: a new image, filled afresh.
  Proc& c = Run("c");
  ASSERT_EQ(c.vm.Fault(VirtAddr(kText), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_TRUE(HoldsImagePage(In(c, kText).pa, 0));
  EXPECT_EQ(Used(), 1u);
}

// mprotect gives text write; the write copies the shared page (the image's reference keeps it shared), so
// the image's page and the other process's view never change; the copy holds the write.
//   before: a --r-x--> S <--r-x-- b      after a's write: a --rwx--> C (S's bytes, then the write), b --r-x--> S
TEST_F(ImageTest, AWriteToTextMadeWritableCopiesAndNeverChangesTheSharedPage) {
  Proc& a = Run("a");
  Proc& b = Run("b");
  ASSERT_EQ(a.vm.Fault(VirtAddr(kText), Access::kExec).status, FaultStatus::kResolved);
  ASSERT_EQ(b.vm.Fault(VirtAddr(kText), Access::kExec).status, FaultStatus::kResolved);
  const PhysAddr shared = In(a, kText).pa;
  ASSERT_EQ(a.vm.Mprotect(VirtAddr(kText), kTextPages * kPage, Prot::kWrite | Prot::kExec), UserVmStatus::kOk);
  EXPECT_EQ(In(a, kText).prot, Prot::kExec) << "mprotect made the shared page writable";
  a.vm.Validate();
  ASSERT_EQ(a.vm.Fault(VirtAddr(kText + 16), Access::kWrite).status, FaultStatus::kResolved);
  const VmMapping copy = In(a, kText);
  EXPECT_NE(copy.pa, shared);
  EXPECT_EQ(copy.prot, Prot::kWrite | Prot::kExec);
  std::memset(arena_.direct_map().Kaddr<uint8_t>(copy.pa) + 16, 0xee, 8);  // the user's write
  EXPECT_TRUE(HoldsImagePage(shared, 0)) << "the write reached the shared page";
  EXPECT_EQ(In(b, kText).pa, shared);
  EXPECT_EQ(Refs(shared), 2u);  // the image's and b's
  // A write to a text page nobody mapped yet fills a private page; the image stays without it.
  ASSERT_EQ(a.vm.Fault(VirtAddr(kText + kPage), Access::kWrite).status, FaultStatus::kResolved);
  EXPECT_EQ(cache_.Stats().pages, 1u);
  EXPECT_EQ(Refs(In(a, kText + kPage).pa), 1u);
  a.vm.Validate();
  b.vm.Validate();
  // A third process still gets the image's bytes.
  Proc& c = Run("c");
  ASSERT_EQ(c.vm.Fault(VirtAddr(kText), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_EQ(In(c, kText).pa, shared);
}

// A split text VMA is two users of its image, each mapping its own pages of it; munmap of one part drops
// its use, fork's copy adds one.
TEST_F(ImageTest, SplitsForksAndUnmapsCountTheirUses) {
  Proc& a = Run("a");
  ASSERT_EQ(a.vm.Mprotect(VirtAddr(kText + 2 * kPage), kPage, Prot::kRead), UserVmStatus::kOk);
  EXPECT_EQ(cache_.Stats().users, 2u);
  ASSERT_EQ(a.vm.Fault(VirtAddr(kText + 2 * kPage), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_TRUE(HoldsImagePage(In(a, kText + 2 * kPage).pa, 2));
  Proc& child = *procs_.emplace_back(std::make_unique<Proc>(*this, "child"));
  ASSERT_EQ(a.vm.Fork(child.vm), UserVmStatus::kOk);
  EXPECT_EQ(cache_.Stats().users, 4u);
  EXPECT_EQ(In(child, kText + 2 * kPage).pa, In(a, kText + 2 * kPage).pa);
  ASSERT_EQ(a.vm.Munmap(VirtAddr(kText), 2 * kPage), UserVmStatus::kOk);
  EXPECT_EQ(cache_.Stats().users, 3u);
  ASSERT_EQ(child.vm.Fault(VirtAddr(kText + kPage), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_TRUE(HoldsImagePage(In(child, kText + kPage).pa, 1));
  child.vm.Validate();
  a.vm.Validate();
  EXPECT_EQ(child.vm.Text().users, 3u);
}

// No memory for the image: AddImage says so and adds nothing. No page for a fault: kNoMemory and the image
// holds nothing, the next fault fills it.
TEST_F(ImageTest, RunningOutOfMemoryChangesNothing) {
  Proc& a = *procs_.emplace_back(std::make_unique<Proc>(*this, "a"));
  memory_.set_budget(0);
  EXPECT_EQ(a.vm.AddImage(VirtAddr(kText), kPage, Prot::kExec, VmaKind::kText, image_.data(), kPage),
            UserVmStatus::kNoMemory);
  uint64_t resident;
  EXPECT_EQ(a.vm.Stats(&resident, nullptr, 0), 0u);
  memory_.set_budget(-1);
  nodes_.set_budget(0);
  EXPECT_EQ(a.vm.AddImage(VirtAddr(kText), kPage, Prot::kExec, VmaKind::kText, image_.data(), kPage),
            UserVmStatus::kNoMemory);
  EXPECT_EQ(cache_.Stats().images, 0u) << "the image outlived a VMA that was never added";
  nodes_.set_budget(-1);
  ASSERT_EQ(a.vm.AddImage(VirtAddr(kText), kPage, Prot::kExec, VmaKind::kText, image_.data(), kPage),
            UserVmStatus::kOk);
  pages_.set_budget(0);
  EXPECT_EQ(a.vm.Fault(VirtAddr(kText), Access::kRead).status, FaultStatus::kNoMemory);
  EXPECT_EQ(cache_.Stats().pages, 0u);
  pages_.set_budget(-1);
  EXPECT_EQ(a.vm.Fault(VirtAddr(kText), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_EQ(cache_.Stats().pages, 1u);
}

// The cache alone: keys differ in any field, Enter keeps the first page entered and gives a late one back.
TEST_F(ImageTest, EnterKeepsTheFirstPageAndGivesTheLateOneBack) {
  const UserPages up = pages_.source();
  const ImageKey key{image_.data(), image_.size(), kTextPages};
  Image* i = cache_.Acquire(key);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(cache_.Acquire(key), i);
  Image* other = cache_.Acquire(ImageKey{image_.data(), image_.size() - 1, kTextPages});
  EXPECT_NE(other, i);
  PhysAddr pa;
  EXPECT_FALSE(cache_.Lookup(i, 0, up, &pa));
  PhysAddr first, late;
  ASSERT_TRUE(up.new_page(up.ctx, VirtAddr(kText), &first));
  ASSERT_TRUE(up.new_page(up.ctx, VirtAddr(kText), &late));
  EXPECT_EQ(cache_.Enter(i, 0, first, up), first);
  EXPECT_EQ(cache_.Enter(i, 0, late, up), first) << "a late page replaced the first";
  EXPECT_EQ(Used(), 1u);
  EXPECT_EQ(Refs(first), 3u);  // the image's and two callers'
  ASSERT_TRUE(cache_.Lookup(i, 0, up, &pa));
  EXPECT_EQ(pa, first);
  for (int n = 0; n < 3; ++n) up.put_page(up.ctx, first);
  EXPECT_EQ(cache_.Held(i, 0, kTextPages), 1u);
  cache_.Release(i, up);
  EXPECT_EQ(Used(), 1u);
  cache_.Release(i, up);
  cache_.Release(other, up);
  EXPECT_EQ(Used(), 0u);
}

// A cache destroyed with an image left would leak the image's pages.
TEST_F(ImageTest, DestroyingTheCacheWithAnImageLeftPanics) {
  EXPECT_DEATH(
      {
        ImageCache cache(memory_.source());
        cache.Acquire(ImageKey{image_.data(), image_.size(), kTextPages});
      },
      "image cache destroyed with 1 images \\(the first of 12188 bytes, 1 users\\)");
}

// Processes on several threads fault the same text at once, each over its own space: one copy in the end,
// each page filled by whichever came first, every process mapping the same pages (TSan: the image's lock).
TEST_F(ImageTest, ConcurrentFaultsOfManyProcessesShareOneCopy) {
  constexpr unsigned kThreads = 4, kRounds = 20;
  for (unsigned round = 0; round < kRounds; ++round) {
    std::vector<Proc*> ps;
    for (unsigned i = 0; i < kThreads; ++i) ps.push_back(&Run("p"));
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        for (uint64_t page = 0; page < kTextPages; ++page) {
          const uint64_t at = kText + ((page + i) % kTextPages) * kPage;
          EXPECT_EQ(ps[i]->vm.Fault(VirtAddr(at), Access::kExec).status, FaultStatus::kResolved);
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(Used(), kTextPages);
    for (uint64_t page = 0; page < kTextPages; ++page) {
      const PhysAddr pa = In(*ps[0], kText + page * kPage).pa;
      for (Proc* p : ps) EXPECT_EQ(In(*p, kText + page * kPage).pa, pa);
      EXPECT_TRUE(HoldsImagePage(pa, page));
    }
    for (Proc* p : ps) Exit(*p);
    EXPECT_EQ(Used(), 0u);
  }
}

// Random runs of processes sharing one program's text: starts, exits, forks, faults, mprotect + write and
// munmap of text pages in any order. After each step every space validates (no shared page writable), a
// text page is either the image's (then every process mapping the image's page maps the same frame, holding
// the image's bytes) or one the process wrote; at the end every page is back once (the fixture).
TEST_F(ImageTest, RandomRunsKeepOneCopyAndFreeEveryPageOnce) {
  constexpr unsigned kSteps = 3000, kMaxProcs = 6;
  std::srand(15);
  struct Shadow {
    Proc* proc;
    std::vector<bool> written;  // pages it wrote (private copies)
  };
  std::vector<Shadow> live;
  auto check = [&] {
    std::vector<PhysAddr> image_page(kTextPages, ImageCache::kNoPage);
    for (Shadow& sh : live) {
      sh.proc->vm.Validate();
      for (uint64_t page = 0; page < kTextPages; ++page) {
        VmMapping m;
        if (sh.proc->space.Query(VirtAddr(kText + page * kPage), &m) != VmStatus::kOk || sh.written[page]) continue;
        ASSERT_TRUE(HoldsImagePage(m.pa, page)) << "page " << page;
        EXPECT_FALSE(Has(m.prot, Prot::kWrite)) << "text page " << page << " is writable but was never written";
        EXPECT_GE(Refs(m.pa), 2u) << "text page " << page << " is not the image's";
        if (image_page[page] == ImageCache::kNoPage) image_page[page] = m.pa;
        EXPECT_EQ(m.pa, image_page[page]) << "two copies of text page " << page;
      }
    }
  };
  for (unsigned step = 0; step < kSteps; ++step) {
    const unsigned op = static_cast<unsigned>(std::rand()) % 7;
    if (live.empty() || (op == 0 && live.size() < kMaxProcs)) {
      live.push_back(Shadow{&Run("p"), std::vector<bool>(kTextPages)});
      continue;
    }
    Shadow& sh = live[static_cast<size_t>(std::rand()) % live.size()];
    const uint64_t page = static_cast<uint64_t>(std::rand()) % kTextPages;
    const VirtAddr va(kText + page * kPage);
    UserVm& vm = sh.proc->vm;
    switch (op) {
      case 0:
      case 1:
      case 2: {
        const FaultStatus st = vm.Fault(va, op == 2 ? Access::kRead : Access::kExec).status;
        Vma v;
        EXPECT_EQ(st, vm.Lookup(va, &v) ? FaultStatus::kResolved : FaultStatus::kNoVma);
        break;
      }
      case 3: {  // text made writable, then written: a private copy
        Vma v;
        if (!vm.Lookup(va, &v)) break;
        ASSERT_EQ(vm.Mprotect(va, kPage, Prot::kWrite | Prot::kExec), UserVmStatus::kOk);
        ASSERT_EQ(vm.Fault(va, Access::kWrite).status, FaultStatus::kResolved);
        std::memset(arena_.direct_map().Kaddr<uint8_t>(In(*sh.proc, va.value()).pa), 0x5a, 16);
        sh.written[page] = true;
        break;
      }
      case 4:
        ASSERT_EQ(vm.Munmap(va, kPage), UserVmStatus::kOk);
        sh.written[page] = false;
        break;
      case 5:
        if (live.size() < kMaxProcs) {
          Shadow child{procs_.emplace_back(std::make_unique<Proc>(*this, "child")).get(), sh.written};
          ASSERT_EQ(vm.Fork(child.proc->vm), UserVmStatus::kOk);
          live.push_back(child);
        }
        break;
      case 6: {
        Proc* gone = sh.proc;
        live.erase(live.begin() + (&sh - live.data()));
        Exit(*gone);
        break;
      }
    }
    check();
  }
  for (Shadow& sh : live) Exit(*sh.proc);
  EXPECT_EQ(Used(), 0u);
}

}  // namespace
}  // namespace kmem
