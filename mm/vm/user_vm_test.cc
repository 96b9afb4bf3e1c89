#include "mm/vm/user_vm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "testing/fake_aspace.h"
#include "testing/user_vm_host.h"

namespace kmem {
namespace {

constexpr uint64_t kPage = kPageSize;
constexpr uint64_t kLo = 0x10000, kHi = 0x800000000000;
constexpr uint64_t kStackTop = 0x7ffffff08000;  // 8 MiB below it lies 0x7fffff708000
constexpr uint64_t kStackLimit = 8 << 20;

class UserVmTest : public ::testing::Test {
 protected:
  UserVmTest()
      : arena_(PhysAddr(0x40000000), 16 << 20),
        pages_(arena_),
        space_("proc", AddressSpace::Kind::kUser, arch_),
        vm_(space_, pages_.source(), arena_.direct_map(), nodes_.source(),
            UserVmLimits{VirtAddr(kLo), VirtAddr(kHi)}),
        free_before_(pages_.palloc().FreeCount()) {}
  ~UserVmTest() override {
    vm_.Teardown();
    EXPECT_TRUE(arch_.pages.empty());
    EXPECT_EQ(nodes_.outstanding(), 0u);
    EXPECT_EQ(pages_.palloc().FreeCount(), free_before_);
  }

  std::vector<Vma> Vmas() { return VmasOf(vm_); }
  static std::vector<Vma> VmasOf(const UserVm& vm) {
    uint64_t resident;
    std::vector<Vma> out(64);
    out.resize(vm.Stats(&resident, out.data(), out.size()));
    return out;
  }
  std::string Maps() {
    std::string out;
    vm_.Dump([](void* ctx, const char* text, size_t len) { static_cast<std::string*>(ctx)->append(text, len); }, &out);
    return out;
  }
  std::string Describe(uint64_t va, Access access) {
    FaultResult r = vm_.Fault(VirtAddr(va), access);
    char buf[160];
    UserVm::DescribeFault(r, VirtAddr(va), access, buf, sizeof buf);
    return buf;
  }
  // The byte at va through the page tables and the direct map.
  uint8_t Byte(uint64_t va) {
    VmMapping m;
    EXPECT_EQ(space_.Query(VirtAddr(va), &m), VmStatus::kOk) << std::hex << va;
    return *arena_.direct_map().Kaddr<uint8_t>(m.pa);
  }
  bool Mapped(uint64_t va) {
    VmMapping m;
    return space_.Query(VirtAddr(va), &m) == VmStatus::kOk;
  }

  testing::PhysArena arena_;
  testing::HostUserPages pages_;
  testing::VmaNodePool nodes_;
  testing::FakeArchAspace arch_;
  AddressSpace space_;
  UserVm vm_;
  uint64_t free_before_;
};

// Text [0x400000, 0x402000) from a 5000-byte image; a fault on its second page copies bytes 4096-4999 and
// zeroes the rest; a write to it is refused with the message the kernel prints.
TEST_F(UserVmTest, TextFaultsCopyTheImageAndRefuseWrites) {
  std::vector<uint8_t> image(5000);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 7 + 1);
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x400000), 0x2000, Prot::kExec, VmaKind::kText, image.data(), image.size()),
            UserVmStatus::kOk);
  FaultResult r = vm_.Fault(VirtAddr(0x401010), Access::kExec);
  ASSERT_EQ(r.status, FaultStatus::kResolved);
  EXPECT_EQ(r.vma.resident, 1u);
  EXPECT_EQ(Byte(0x401000), image[4096]);
  EXPECT_EQ(Byte(0x401000 + 903), image[4999]);
  EXPECT_EQ(Byte(0x401000 + 904), 0);
  EXPECT_FALSE(Mapped(0x400000));
  EXPECT_EQ(Describe(0x401000, Access::kWrite),
            "write to 0x401000 in text VMA 0x400000-0x402000 r-x, which forbids writes");
  EXPECT_EQ(Maps(), "00400000-00402000 r-x text  resident 1\n");
}

TEST_F(UserVmTest, FaultsOutsideEveryVmaAndOnKernelAddressesSaySo) {
  EXPECT_EQ(Describe(0, Access::kRead), "read of 0x0 outside every VMA");
  EXPECT_EQ(Describe(0xffff800000001000, Access::kRead), "read of 0xffff800000001000, a kernel address");
  VirtAddr heap;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0), kPage, Prot::kWrite, &heap), UserVmStatus::kOk);
  char want[160];
  std::snprintf(want, sizeof want, "execution of 0x%lx in anon VMA 0x%lx-0x%lx rw-, which forbids execution",
                heap.value(), heap.value(), heap.value() + kPage);
  EXPECT_EQ(Describe(heap.value(), Access::kExec), want);
}

// Stack: 4 pages below the top at first; a touch further down grows it page by page to the limit; the guard
// gap below refuses with the limit in the message.
//        floor-guard   floor              top-4p   top
//   ... |  guard   |   growth room  ...  | stack  |
TEST_F(UserVmTest, StackGrowsDownToItsLimitThenHitsTheGuardGap) {
  ASSERT_EQ(vm_.SetStack(VirtAddr(kStackTop), kStackLimit), UserVmStatus::kOk);
  EXPECT_EQ(Vmas().size(), 1u);
  EXPECT_EQ(Vmas()[0].start.value(), kStackTop - 4 * kPage);
  const uint64_t floor = kStackTop - kStackLimit;
  FaultResult r = vm_.Fault(VirtAddr(floor + 8), Access::kWrite);
  ASSERT_EQ(r.status, FaultStatus::kResolved);
  EXPECT_EQ(r.vma.start.value(), floor);
  EXPECT_EQ(r.vma.end.value(), kStackTop);
  EXPECT_EQ(Vmas().size(), 1u);
  EXPECT_EQ(Describe(floor - 1, Access::kWrite),
            "stack access at 0x7fffff707fff below its limit of 8 MiB (guard gap)");
  EXPECT_EQ(vm_.Fault(VirtAddr(floor - kPage - 1), Access::kWrite).status, FaultStatus::kNoVma);
  // No mapping may take the guard gap or the growth room.
  VirtAddr at;
  EXPECT_EQ(vm_.Mmap(VirtAddr(floor - kPage), kPage, Prot::kWrite, &at), UserVmStatus::kOk);
  EXPECT_LT(at.value(), floor - kPage);
  EXPECT_EQ(vm_.AddImage(VirtAddr(floor - kPage), kPage, Prot::kRead, VmaKind::kData, nullptr, 0),
            UserVmStatus::kOverlap);
  // Mmap without a hint takes the highest gap below the guard gap.
  EXPECT_EQ(at.value(), floor - kPage - kPage);
}

TEST_F(UserVmTest, StackLimitOfAFewPagesIsSaidInKiB) {
  ASSERT_EQ(vm_.SetStack(VirtAddr(0x800000), 6 * kPage), UserVmStatus::kOk);
  EXPECT_EQ(Describe(0x800000 - 6 * kPage - 1, Access::kRead),
            "stack access at 0x7f9fff below its limit of 24 KiB (guard gap)");
}

// Write reaches the read-only text and the stack below its first pages, faulting pages in.
TEST_F(UserVmTest, KernelWritesWhateverTheProtection) {
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kRead, VmaKind::kText, nullptr, 0), UserVmStatus::kOk);
  ASSERT_EQ(vm_.SetStack(VirtAddr(kStackTop), kStackLimit), UserVmStatus::kOk);
  const char text[] = "argv";
  EXPECT_EQ(vm_.Write(VirtAddr(0x400ffe), text, 5), UserVmStatus::kNoVma);  // runs off the text
  EXPECT_EQ(Byte(0x400ffe), 'a');
  EXPECT_EQ(vm_.Write(VirtAddr(kStackTop - 5 * kPage - 2), text, 5), UserVmStatus::kOk);
  EXPECT_EQ(Byte(kStackTop - 5 * kPage - 2), 'a');
  EXPECT_EQ(Byte(kStackTop - 5 * kPage + 1), 'v');
  EXPECT_EQ(Vmas()[1].start.value(), kStackTop - 6 * kPage);
}

//   mmap 4 pages:    [a a a a]
//   munmap page 1:   [a] . [a a]        the middle goes, the pages with it
//   mprotect 2-3 ro: [a] . [r r]
//   mprotect 2-3 rw: [a] . [a a]        back as one VMA
//   mmap at page 1:  [a a a a]          merged with both neighbours
TEST_F(UserVmTest, MunmapAndMprotectSplitAndMerge) {
  VirtAddr base;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0x10000000), 4 * kPage, Prot::kWrite, &base), UserVmStatus::kOk);
  ASSERT_EQ(base.value(), 0x10000000u);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(vm_.Fault(base + i * kPage, Access::kWrite).status, FaultStatus::kResolved);
  const uint64_t free_mapped = pages_.palloc().FreeCount();
  ASSERT_EQ(vm_.Munmap(base + kPage, kPage), UserVmStatus::kOk);
  EXPECT_EQ(pages_.palloc().FreeCount(), free_mapped + 1);
  EXPECT_FALSE(Mapped(base.value() + kPage));
  ASSERT_EQ(Vmas().size(), 2u);
  EXPECT_EQ(Vmas()[1].resident, 2u);
  ASSERT_EQ(vm_.Mprotect(base + 2 * kPage, 2 * kPage, Prot::kRead), UserVmStatus::kOk);
  VmMapping m;
  ASSERT_EQ(space_.Query(base + 3 * kPage, &m), VmStatus::kOk);
  EXPECT_EQ(m.prot, Prot::kRead);
  EXPECT_EQ(Vmas().size(), 2u);
  ASSERT_EQ(vm_.Mprotect(base + 2 * kPage, kPage, Prot::kWrite), UserVmStatus::kOk);
  EXPECT_EQ(Vmas().size(), 3u);
  ASSERT_EQ(vm_.Mprotect(base + 3 * kPage, kPage, Prot::kWrite), UserVmStatus::kOk);
  EXPECT_EQ(Vmas().size(), 2u);
  EXPECT_EQ(vm_.Mprotect(base, 3 * kPage, Prot::kRead), UserVmStatus::kNoVma);  // the hole at page 1
  VirtAddr mid;
  ASSERT_EQ(vm_.Mmap(base + kPage, kPage, Prot::kWrite, &mid), UserVmStatus::kOk);
  EXPECT_EQ(mid, base + kPage);
  ASSERT_EQ(Vmas().size(), 1u);
  EXPECT_EQ(Vmas()[0].resident, 3u);
  EXPECT_EQ(Vmas()[0].end - Vmas()[0].start, 4 * kPage);
}

TEST_F(UserVmTest, ImageVmasDoNotMergeButKeepTheirBytesAcrossASplit) {
  std::vector<uint8_t> image(3 * kPage, 0x5a);
  image[2 * kPage] = 0x77;
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x600000), 3 * kPage, Prot::kWrite, VmaKind::kData, image.data(), image.size()),
            UserVmStatus::kOk);
  ASSERT_EQ(vm_.Mprotect(VirtAddr(0x601000), kPage, Prot::kRead), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Mprotect(VirtAddr(0x601000), kPage, Prot::kWrite), UserVmStatus::kOk);
  EXPECT_EQ(Vmas().size(), 3u);
  ASSERT_EQ(vm_.Fault(VirtAddr(0x602000), Access::kRead).status, FaultStatus::kResolved);
  EXPECT_EQ(Byte(0x602000), 0x77);
}

TEST_F(UserVmTest, BrkGrowsAndShrinksTheHeapAndFreesItsPages) {
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x600000), 0x1800, Prot::kWrite, VmaKind::kBss, nullptr, 0), UserVmStatus::kOk);
  VirtAddr now;
  EXPECT_EQ(vm_.Brk(VirtAddr(0x700000), &now), UserVmStatus::kNoHeap);
  ASSERT_EQ(vm_.SetHeap(VirtAddr(0x601800)), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Brk(VirtAddr(0), &now), UserVmStatus::kOk);
  EXPECT_EQ(now.value(), 0x601800u);
  ASSERT_EQ(vm_.Brk(VirtAddr(0x605001), &now), UserVmStatus::kOk);
  EXPECT_EQ(now.value(), 0x605001u);
  EXPECT_EQ(Maps(), "00600000-00602000 rw- bss   resident 0\n00602000-00606000 rw- heap  resident 0\n");
  ASSERT_EQ(vm_.Write(VirtAddr(0x602000), "x", 1), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(VirtAddr(0x605000), Access::kWrite).status, FaultStatus::kResolved);
  const uint64_t free_mapped = pages_.palloc().FreeCount();
  ASSERT_EQ(vm_.Brk(VirtAddr(0x603000), &now), UserVmStatus::kOk);
  EXPECT_EQ(pages_.palloc().FreeCount(), free_mapped + 1);
  EXPECT_EQ(Maps(), "00600000-00602000 rw- bss   resident 0\n00602000-00603000 rw- heap  resident 1\n");
  EXPECT_EQ(vm_.Brk(VirtAddr(0x601000), &now), UserVmStatus::kOutOfRange);
  EXPECT_EQ(now.value(), 0x603000u);
  VirtAddr blocker;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0x604000), kPage, Prot::kWrite, &blocker), UserVmStatus::kOk);
  EXPECT_EQ(vm_.Brk(VirtAddr(0x605000), &now), UserVmStatus::kOverlap);
  EXPECT_EQ(now.value(), 0x603000u);
}

TEST_F(UserVmTest, BadArgumentsAreRefusedAndChangeNothing) {
  VirtAddr at;
  EXPECT_EQ(vm_.Mmap(VirtAddr(0), 0, Prot::kWrite, &at), UserVmStatus::kZeroLength);
  EXPECT_EQ(vm_.Munmap(VirtAddr(0x1001), kPage), UserVmStatus::kMisaligned);
  EXPECT_EQ(vm_.Munmap(VirtAddr(0x1000), kPage), UserVmStatus::kOutOfRange);  // below lo
  EXPECT_EQ(vm_.Mprotect(VirtAddr(kHi - kPage), 2 * kPage, Prot::kRead), UserVmStatus::kOutOfRange);
  EXPECT_EQ(vm_.Munmap(VirtAddr(kHi - kPage), ~uint64_t{0}), UserVmStatus::kOutOfRange);
  EXPECT_EQ(vm_.Mmap(VirtAddr(0), ~uint64_t{0}, Prot::kWrite, &at), UserVmStatus::kOutOfRange);
  EXPECT_EQ(vm_.Mmap(VirtAddr(0), kHi, Prot::kWrite, &at), UserVmStatus::kNoGap);
  EXPECT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kRead, VmaKind::kHeap, nullptr, 0),
            UserVmStatus::kBadArgument);
  uint8_t b = 0;
  EXPECT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kRead, VmaKind::kText, &b, kPage + 1),
            UserVmStatus::kBadArgument);
  EXPECT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kRead, VmaKind::kBss, &b, 1), UserVmStatus::kBadArgument);
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kRead, VmaKind::kText, &b, 1), UserVmStatus::kOk);
  EXPECT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kRead, VmaKind::kText, &b, 1), UserVmStatus::kOverlap);
  EXPECT_EQ(vm_.SetStack(VirtAddr(0x800000), 2 * kPage), UserVmStatus::kBadArgument);
  EXPECT_EQ(vm_.SetStack(VirtAddr(0x400000 + 5 * kPage), 4 * kPage), UserVmStatus::kOverlap);  // guard on text
  ASSERT_EQ(vm_.SetStack(VirtAddr(0x401000 + 5 * kPage), 4 * kPage), UserVmStatus::kOk);
  EXPECT_EQ(vm_.SetStack(VirtAddr(0x900000), 4 * kPage), UserVmStatus::kAlreadySet);
  EXPECT_EQ(Vmas().size(), 2u);
  EXPECT_STREQ(Name(UserVmStatus::kNoGap), "no gap large enough");
  EXPECT_STREQ(Name(FaultStatus::kStackLimit), "stack limit");
}

// Out of nodes, the middle munmap and a two-sided mprotect change nothing; out of pages, a fault says so.
TEST_F(UserVmTest, RunningOutOfNodesOrPagesChangesNothing) {
  VirtAddr base;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0x10000000), 3 * kPage, Prot::kWrite, &base), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(base + kPage, Access::kWrite).status, FaultStatus::kResolved);
  nodes_.set_budget(1);
  EXPECT_EQ(vm_.Mprotect(base + kPage, kPage, Prot::kRead), UserVmStatus::kNoMemory);
  nodes_.set_budget(0);
  EXPECT_EQ(vm_.Munmap(base + kPage, kPage), UserVmStatus::kNoMemory);
  VirtAddr at;
  EXPECT_EQ(vm_.Mmap(VirtAddr(0), kPage, Prot::kRead, &at), UserVmStatus::kNoMemory);
  EXPECT_EQ(Vmas().size(), 1u);
  EXPECT_TRUE(Mapped(base.value() + kPage));
  nodes_.set_budget(-1);
  pages_.set_budget(0);
  FaultResult r = vm_.Fault(base, Access::kWrite);
  EXPECT_EQ(r.status, FaultStatus::kNoMemory);
  char buf[128];
  UserVm::DescribeFault(r, base, Access::kWrite, buf, sizeof buf);
  EXPECT_STREQ(buf, "write to 0x10000000 in anon VMA 0x10000000-0x10003000: no memory for a page");
  arch_.maps_left = 0;  // a page but no page table: the page goes back
  pages_.set_budget(-1);
  const uint64_t free_now = pages_.palloc().FreeCount();
  EXPECT_EQ(vm_.Fault(base, Access::kWrite).status, FaultStatus::kNoMemory);
  EXPECT_EQ(pages_.palloc().FreeCount(), free_now);
  arch_.maps_left = -1;
}

// User pages come in their address's colour (the colour backend honours NewPage's va).
TEST_F(UserVmTest, PagesComeInTheirAddressColour) {
  VirtAddr base;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0), 16 * kPage, Prot::kWrite, &base), UserVmStatus::kOk);
  for (uint64_t i = 0; i < 16; ++i) {
    VirtAddr va = base + i * kPage;
    ASSERT_EQ(vm_.Fault(va, Access::kRead).status, FaultStatus::kResolved);
    VmMapping m;
    ASSERT_EQ(space_.Query(va, &m), VmStatus::kOk);
    EXPECT_EQ((m.pa.value() >> kPageShift) % testing::HostUserPages::kColours,
              (va.value() >> kPageShift) % testing::HostUserPages::kColours);
  }
}

// A fork's child over its own fake tables, sharing the test's pages and nodes.
class UserVmForkTest : public UserVmTest {
 protected:
  UserVmForkTest()
      : child_space_("child", AddressSpace::Kind::kUser, child_arch_),
        child_(child_space_, pages_.source(), arena_.direct_map(), nodes_.source(),
               UserVmLimits{VirtAddr(kLo), VirtAddr(kHi)}) {}
  ~UserVmForkTest() override {
    child_.Teardown();
    EXPECT_TRUE(child_arch_.pages.empty());
  }
  VmMapping In(AddressSpace& space, uint64_t va) {
    VmMapping m{};
    EXPECT_EQ(space.Query(VirtAddr(va), &m), VmStatus::kOk) << std::hex << va;
    return m;
  }
  unsigned Refs(PhysAddr pa) { return pages_.palloc().Refs(pages_.palloc().PageOf(pa)); }

  testing::FakeArchAspace child_arch_;
  AddressSpace child_space_;
  UserVm child_;
};

// A data page and a text page faulted in, then fork: both spaces map the same frames, two references each,
// the data page read-only on both sides. The child's write copies; the parent's, now the only holder,
// writes in place.
//   before:  parent data --rw--> A          after fork:  parent --r--> A <--r-- child
//   child writes:  parent --r--> A, child --rw--> B     parent writes:  parent --rw--> A
TEST_F(UserVmForkTest, ForkSharesPagesAndTheFirstWriteCopiesOnlyWhatIsShared) {
  const uint8_t text[] = {0x90, 0xc3};
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x400000), kPage, Prot::kExec, VmaKind::kText, text, sizeof text),
            UserVmStatus::kOk);
  ASSERT_EQ(vm_.AddImage(VirtAddr(0x401000), kPage, Prot::kWrite, VmaKind::kBss, nullptr, 0), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Write(VirtAddr(0x401000), "parent", 7), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(VirtAddr(0x400000), Access::kExec).status, FaultStatus::kResolved);
  const uint64_t used = free_before_ - pages_.palloc().FreeCount();
  ASSERT_EQ(vm_.Fork(child_), UserVmStatus::kOk);
  EXPECT_EQ(free_before_ - pages_.palloc().FreeCount(), used) << "fork copied a page";
  const VmMapping data = In(space_, 0x401000), text_page = In(space_, 0x400000);
  EXPECT_EQ(In(child_space_, 0x401000).pa, data.pa);
  EXPECT_EQ(In(child_space_, 0x400000).pa, text_page.pa);
  EXPECT_EQ(Refs(data.pa), 2u);
  EXPECT_EQ(Refs(text_page.pa), 2u);
  EXPECT_EQ(data.prot, Prot::kRead);
  EXPECT_EQ(In(child_space_, 0x401000).prot, Prot::kRead);
  EXPECT_EQ(In(child_space_, 0x400000).prot, Prot::kExec);
  const std::vector<Vma> mine = Vmas(), its = VmasOf(child_);
  ASSERT_EQ(its.size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_TRUE(its[i].start == mine[i].start && its[i].end == mine[i].end && its[i].prot == mine[i].prot &&
                its[i].kind == mine[i].kind && its[i].resident == mine[i].resident)
        << i;
  }

  ASSERT_EQ(child_.Fault(VirtAddr(0x401003), Access::kWrite).status, FaultStatus::kResolved);
  const VmMapping copy = In(child_space_, 0x401000);
  EXPECT_NE(copy.pa, data.pa);
  EXPECT_EQ(copy.prot, Prot::kWrite);
  EXPECT_EQ(std::memcmp(arena_.direct_map().Kaddr<char>(copy.pa), "parent", 7), 0);
  EXPECT_EQ(Refs(data.pa), 1u);
  ASSERT_EQ(child_.Write(VirtAddr(0x401000), "child", 6), UserVmStatus::kOk);
  EXPECT_EQ(Byte(0x401000), 'p') << "the child's write reached the parent";

  ASSERT_EQ(vm_.Fault(VirtAddr(0x401000), Access::kWrite).status, FaultStatus::kResolved);
  EXPECT_EQ(In(space_, 0x401000).pa, data.pa) << "a page with one reference was copied";
  EXPECT_EQ(In(space_, 0x401000).prot, Prot::kWrite);
  EXPECT_EQ(child_.Fault(VirtAddr(0x400000), Access::kWrite).status, FaultStatus::kProtection);
  vm_.Validate();
  child_.Validate();
}

// The last holder frees a shared page, whichever side goes first; a page is never freed twice.
TEST_F(UserVmForkTest, TheLastHolderFreesASharedPage) {
  VirtAddr at;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0), 4 * kPage, Prot::kWrite, &at), UserVmStatus::kOk);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_EQ(vm_.Fault(at + i * kPage, Access::kWrite).status, FaultStatus::kResolved);
  const uint64_t free_then = pages_.palloc().FreeCount();
  ASSERT_EQ(vm_.Fork(child_), UserVmStatus::kOk);
  vm_.Teardown();  // the parent first: the child still holds all four
  EXPECT_EQ(pages_.palloc().FreeCount(), free_then);
  child_.Teardown();
  EXPECT_EQ(pages_.palloc().FreeCount(), free_before_);
}

// With no VMA node for the child part way, the fork fails and both spaces are as before: the child empty,
// the parent's pages writable with one reference each.
TEST_F(UserVmForkTest, AForkWithoutNodesChangesNothing) {
  VirtAddr a, b;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0), kPage, Prot::kWrite, &a), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Mmap(VirtAddr(0), kPage, Prot::kRead, &b), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(a, Access::kWrite).status, FaultStatus::kResolved);
  ASSERT_EQ(vm_.Fault(b, Access::kRead).status, FaultStatus::kResolved);
  nodes_.set_budget(1);
  EXPECT_EQ(vm_.Fork(child_), UserVmStatus::kNoMemory);
  nodes_.set_budget(-1);
  EXPECT_TRUE(VmasOf(child_).empty());
  EXPECT_TRUE(child_arch_.pages.empty());
  EXPECT_EQ(In(space_, a.value()).prot, Prot::kWrite);
  EXPECT_EQ(Refs(In(space_, a.value()).pa), 1u);
  EXPECT_EQ(Refs(In(space_, b.value()).pa), 1u);
  vm_.Validate();
}

// A copy-on-write fault with no page left fails and leaves the shared page mapped read-only.
TEST_F(UserVmForkTest, ACopyWithNoPageLeftChangesNothing) {
  VirtAddr at;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0), kPage, Prot::kWrite, &at), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(at, Access::kWrite).status, FaultStatus::kResolved);
  ASSERT_EQ(vm_.Fork(child_), UserVmStatus::kOk);
  const PhysAddr shared = In(space_, at.value()).pa;
  pages_.set_budget(0);
  EXPECT_EQ(child_.Fault(at, Access::kWrite).status, FaultStatus::kNoMemory);
  pages_.set_budget(-1);
  EXPECT_EQ(In(child_space_, at.value()).pa, shared);
  EXPECT_EQ(In(child_space_, at.value()).prot, Prot::kRead);
  EXPECT_EQ(Refs(shared), 2u);
  child_.Validate();
}

TEST_F(UserVmTest, DestroyingWithoutTeardownPanics) {
  EXPECT_DEATH(
      {
        testing::FakeArchAspace arch;
        AddressSpace space("leaky", AddressSpace::Kind::kUser, arch);
        UserVm vm(space, pages_.source(), arena_.direct_map(), nodes_.source(),
                  UserVmLimits{VirtAddr(kLo), VirtAddr(kHi)});
        VirtAddr at;
        vm.Mmap(VirtAddr(0), kPage, Prot::kRead, &at);
      },
      "leaky: UserVm destroyed with 1 VMAs: Teardown did not run");
}

// The ageing pass over four anonymous pages, 0 to 3, faulted in; the test sets the accessed and dirty bits
// the MMU would. Pass 1 finds 0, 1 and 2 used, 2 written too; passes 2 to 4 find only page 0 used:
//   refage after pass:    1        2        3        4
//   page 0 (hot)          0        0        0        0
//   pages 1, 2 (once)     0        1        2        3
//   page 3 (never)        1        2        3        4
class UserVmAgeTest : public UserVmTest {
 protected:
  void SetUp() override {
    VirtAddr at;
    ASSERT_EQ(vm_.Mmap(VirtAddr(0x10000000), 4 * kPage, Prot::kWrite, &at), UserVmStatus::kOk);
    ASSERT_EQ(at, VirtAddr(0x10000000));
    for (uint64_t i = 0; i < 4; ++i) ASSERT_EQ(vm_.Fault(Va(i), Access::kWrite).status, FaultStatus::kResolved);
  }
  static VirtAddr Va(uint64_t page) { return VirtAddr(0x10000000 + page * kPage); }
  void Use(uint64_t page, AccessBits bits) { arch_.pages.at(Va(page).value()).bits = bits; }
  const Page& PageAt(uint64_t page) {
    VmMapping m{};
    EXPECT_EQ(space_.Query(Va(page), &m), VmStatus::kOk);
    return *pages_.palloc().PageOf(m.pa);
  }
  std::string Line(const AgeCounts& c) {
    char buf[160];
    FormatAge(c, buf, sizeof buf);
    return buf;
  }
};

TEST_F(UserVmAgeTest, UntouchedPagesAgeAndTouchedOnesStayYoung) {
  Use(0, AccessBits::kAccessed);
  Use(1, AccessBits::kAccessed);
  Use(2, AccessBits::kAccessed | AccessBits::kDirty);
  AgeCounts c = vm_.Age(1);
  EXPECT_EQ(Line(c), "4 pages: referenced 3, modified 1, ages 0:3 1:1 2-3:0 4-7:0 8+:0");
  for (uint64_t pass = 2; pass <= 4; ++pass) {
    Use(0, AccessBits::kAccessed);
    c = vm_.Age(pass);
  }
  EXPECT_EQ(Line(c), "4 pages: referenced 1, modified 1, ages 0:1 1:0 2-3:2 4-7:1 8+:0");
  EXPECT_EQ(PageAt(0).refage, 0);
  EXPECT_EQ(PageAt(1).refage, 3);
  EXPECT_EQ(PageAt(2).refage, 3);
  EXPECT_EQ(PageAt(3).refage, 4);
  EXPECT_EQ(PageAt(2).modref, ModRef::kModified);
  EXPECT_EQ(PageAt(0).modref, ModRef::kReferenced);
  // The pass cleared what it read.
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(arch_.pages.at(Va(i).value()).bits, AccessBits::kNone) << i;
  // A touch after many passes makes the page young again.
  Use(3, AccessBits::kAccessed);
  EXPECT_EQ(Line(vm_.Age(5)), "4 pages: referenced 1, modified 1, ages 0:1 1:1 2-3:0 4-7:2 8+:0");
  EXPECT_EQ(PageAt(3).refage, 0);
}

// The pass walks the VMA in runs of kAgeChunk pages, each one Harvest (one lock hold, one shootdown).
TEST_F(UserVmAgeTest, HarvestsInChunksOfTheSpace) {
  VirtAddr at;
  const uint64_t n = UserVm::kAgeChunk + 1;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0x20000000), n * kPage, Prot::kWrite, &at), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(at, Access::kRead).status, FaultStatus::kResolved);
  arch_.calls.clear();
  EXPECT_EQ(vm_.Age(1).pages, 5u);
  EXPECT_EQ(arch_.calls, (std::vector<std::string>{"harvest 268435456 16384", "harvest 536870912 2097152",
                                                   "harvest 538968064 4096"}));
}

// Freed pages forget their ageing: an old, dirty page unmapped and faulted in again starts young and clean.
TEST_F(UserVmAgeTest, AFreedPageStartsFresh) {
  Use(1, AccessBits::kDirty);
  for (uint64_t pass = 1; pass <= 9; ++pass) vm_.Age(pass);
  EXPECT_EQ(Line(vm_.Age(10)), "4 pages: referenced 0, modified 1, ages 0:0 1:0 2-3:0 4-7:0 8+:4");
  VmMapping m{};
  ASSERT_EQ(space_.Query(Va(1), &m), VmStatus::kOk);
  ASSERT_EQ(vm_.Munmap(Va(0), 4 * kPage), UserVmStatus::kOk);
  const Page& freed = *pages_.palloc().PageOf(m.pa);
  EXPECT_EQ(freed.refage, 0);
  EXPECT_EQ(freed.modref, ModRef{});
  pages_.palloc().Validate();
  VirtAddr at;
  ASSERT_EQ(vm_.Mmap(Va(0), kPage, Prot::kWrite, &at), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(at, Access::kWrite).status, FaultStatus::kResolved);
  EXPECT_EQ(Line(vm_.Age(11)), "1 pages: referenced 0, modified 0, ages 0:0 1:1 2-3:0 4-7:0 8+:0");
}

// A page fork shares is aged by both spaces in a pass, but grows only one older, and is young when
// either side used it.
TEST_F(UserVmForkTest, ASharedPageAgesOncePerPassAndIsYoungIfEitherUsedIt) {
  VirtAddr at;
  ASSERT_EQ(vm_.Mmap(VirtAddr(0x10000000), kPage, Prot::kWrite, &at), UserVmStatus::kOk);
  ASSERT_EQ(vm_.Fault(at, Access::kWrite).status, FaultStatus::kResolved);
  ASSERT_EQ(vm_.Fork(child_), UserVmStatus::kOk);
  const Page& page = *pages_.palloc().PageOf(In(space_, at.value()).pa);
  for (uint64_t pass = 1; pass <= 3; ++pass) {
    EXPECT_EQ(vm_.Age(pass).ages[AgeCounts::BucketOf(static_cast<uint8_t>(pass))], 1u);
    child_.Age(pass);
    EXPECT_EQ(page.refage, pass);
  }
  child_arch_.pages.at(at.value()).bits = AccessBits::kAccessed;
  EXPECT_EQ(vm_.Age(4).referenced, 0u);
  EXPECT_EQ(child_.Age(4).referenced, 1u);
  EXPECT_EQ(page.refage, 0);
}

}  // namespace
}  // namespace kmem
