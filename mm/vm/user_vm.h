// A process's address space as its VMAs see it (Linux's mm_struct, 9front's Proc.seg): the areas of
// vma.h over an AddressSpace (a user space), with the operations the system calls and the loader need
// (ELF segments, brk, mmap, munmap, mprotect), the page-fault handler that fills pages on demand (zero for
// anonymous memory, bss, heap and stack; the image's bytes for text and data) and grows the stack, and the
// sentence the kernel prints when a fault kills the process. Architecture-free: the caller maps the
// trap's error code to an Access and acts on the FaultResult.
//
// Invariants: every VMA lies in the user half [limits.lo, limits.hi) and outside the stack's reservation
// unless it is a stack VMA; a page is mapped only inside a VMA, with the VMA's protection or that without
// write (copy-on-write: shared with a fork, or not yet written since an mprotect gave write), and holds one
// reference to a user page that the space gives back when it unmaps it; a page mapped writable has no
// other reference (a text page the image cache shares always has the image's); `resident` is the number
// of the VMA's mapped pages; no two neighbours that could merge (same kind and protection, both anonymous,
// end to start) are apart.
//
// Concurrency: UserVm takes no lock of its own. The caller serialises every call on one space (the process
// holds a sleeping lock) and calls with interrupts on and no spinlock held, since mapping changes go
// through AddressSpace::Unmap and Protect, which shoot down TLBs by cross-call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/direct_map.h"
#include "mm/base/format.h"
#include "mm/vm/aspace.h"
#include "mm/vm/user_pages.h"
#include "mm/vm/vma.h"

namespace kmem {

class ImageCache;  // image.h

enum class UserVmStatus : uint8_t {
  kOk,
  kMisaligned,    // an address that must be page-aligned is not
  kZeroLength,    // a length of 0
  kOutOfRange,    // not inside the user half, or a length that wraps
  kOverlap,       // the range meets a VMA or the stack's reservation (its growth room and guard gap)
  kNoGap,         // mmap found no gap large enough
  kNoMemory,      // no page or no VMA node; nothing changed
  kNoVma,         // part of the range lies outside every VMA (mprotect, Write)
  kNoHeap,        // Brk before SetHeap
  kAlreadySet,    // a second SetHeap or SetStack
  kBadArgument,   // AddImage: a kind that is not text, data or bss, image bytes past the size, bss with an image
};
const char* Name(UserVmStatus status);

// The access that faulted.
enum class Access : uint8_t { kRead, kWrite, kExec };

enum class FaultStatus : uint8_t {
  kResolved,       // the page is mapped now (or was already: a stale TLB entry); retry the access
  kNoVma,          // the address is outside every VMA
  kProtection,     // the VMA forbids the access: a write to read-only memory, an execution of non-executable
  kKernelAddress,  // the address is in the kernel's half (or not canonical)
  kStackLimit,     // in the stack's guard gap: the stack would grow past its limit
  kNoMemory,       // no page (or page table) left
};
const char* Name(FaultStatus status);

// What a fault came to, with a copy of the VMA involved (all zero when there is none) and, for
// kStackLimit, how far the stack may grow (top - lowest address), for the message.
struct FaultResult {
  FaultStatus status;
  Vma vma;
  uint64_t stack_limit;
};

// What an ageing pass found in a space (UserVm::Age), or added up over every space: the resident pages it
// looked at, those referenced in the pass, those ever written, and how many passes each has gone unused.
struct AgeCounts {
  // refage 0, 1, 2-3, 4-7, 8 and more: a page unused for 100 ms, 200-300 ms, ... at ten passes a second.
  static constexpr unsigned kBuckets = 5;
  static constexpr const char* kBucketNames[kBuckets] = {"0", "1", "2-3", "4-7", "8+"};
  static constexpr unsigned BucketOf(uint8_t refage) {
    unsigned b = 0;
    while (b + 1 < kBuckets && refage >= (1u << b)) ++b;
    return b;
  }

  uint64_t pages = 0, referenced = 0, modified = 0;
  uint64_t ages[kBuckets] = {};

  void Count(const PageAgeing& page) {
    ++pages;
    referenced += page.referenced ? 1 : 0;
    modified += page.modified ? 1 : 0;
    ++ages[BucketOf(page.refage)];
  }
  void Add(const AgeCounts& other) {
    pages += other.pages;
    referenced += other.referenced;
    modified += other.modified;
    for (unsigned b = 0; b < kBuckets; ++b) ages[b] += other.ages[b];
  }
};
// "N pages: referenced R, modified M, ages 0:a 1:b 2-3:c 4-7:d 8+:e" into buf (FormatTo's contract).
size_t FormatAge(const AgeCounts& counts, char* buf, size_t cap);

// The user half [lo, hi): VMAs lie inside it and every address at or above hi is the kernel's. Below the
// stack's limit lies a guard gap of stack_guard bytes (at least a page) that no VMA may take.
struct UserVmLimits {
  VirtAddr lo;
  VirtAddr hi;
  uint64_t stack_guard = kPageSize;
};

class UserVm {
 public:
  // Pages the stack VMA starts with, below its top.
  static constexpr uint64_t kStackStartPages = 4;
  // Pages unmapped by one AddressSpace::Unmap (one TLB shootdown) when a range goes.
  static constexpr unsigned kUnmapChunk = 64;

  // `space` is a user space with nothing mapped; `map` reaches every page `pages` hands out; `nodes` gives
  // the VMA nodes; `images`, when given, shares text pages between the spaces running the same program
  // (nullptr: each space fills its own). All outlive the UserVm.
  UserVm(AddressSpace& space, UserPages pages, const DirectMap& map, VmaNodeSource nodes, UserVmLimits limits,
         ImageCache* images = nullptr);
  // Panics unless Teardown ran (or nothing was ever added): a VMA left would leak its pages.
  ~UserVm();
  UserVm(const UserVm&) = delete;
  UserVm& operator=(const UserVm&) = delete;

  // An ELF segment: [start, start + size rounded up to pages) of `kind` text, data or bss; its first
  // image_size bytes from `image` (kernel memory that outlives the space; none for bss), the rest zero.
  // With an image cache, text with image bytes becomes a user of the cache's image of them: its faults map
  // the image's pages read-only, every space running the program the same ones (kNoMemory: no memory for
  // the image). O(log n + images).
  UserVmStatus AddImage(VirtAddr start, uint64_t size, Prot prot, VmaKind kind, const uint8_t* image,
                        uint64_t image_size);
  // Where the break starts (the end of bss, any byte); once.
  UserVmStatus SetHeap(VirtAddr base);
  // Moves the break to new_end (0: leaves it) and says where it is in *now, also on failure. The heap VMA,
  // read-write, covers [base rounded up, break rounded up); growing needs that room free (kOverlap), shrinking
  // unmaps and frees the pages given up. O(log n + pages freed).
  UserVmStatus Brk(VirtAddr new_end, VirtAddr* now);
  // The stack: a read-write VMA of kStackStartPages below `top` (page-aligned) that faults grow down to
  // top - limit; the guard gap lies below that. Nothing else may be mapped in [top - limit - guard, top).
  UserVmStatus SetStack(VirtAddr top, uint64_t limit);
  // An anonymous zero-filled mapping of len bytes rounded up to pages. At hint rounded down when that range
  // is free; else the highest gap below the stack's guard gap (below hi without a stack), top-down as Linux
  // places mmaps. O(log n) with a usable hint, else O(n) in the VMAs above the gap.
  UserVmStatus Mmap(VirtAddr hint, uint64_t len, Prot prot, VirtAddr* out);
  // Unmaps [va, va + len rounded up), whatever VMAs it meets (holes are skipped), splitting those it cuts and
  // freeing their pages. O(log n + VMAs met + pages in them).
  UserVmStatus Munmap(VirtAddr va, uint64_t len);
  // Sets the protection of [va, va + len rounded up), which VMAs must cover entirely (else kNoVma, nothing
  // changed), splitting and merging them. Pages mapped already keep write off: the first write
  // to each makes it writable (in place when no fork shares it). O(log n + VMAs met).
  UserVmStatus Mprotect(VirtAddr va, uint64_t len, Prot prot);

  // The page-fault handler: resolves a fault of `access` at `va`, or says why it cannot. A write to a page
  // of a writable VMA mapped without write is copy-on-write: with its reference the only one it becomes
  // writable in place, else a copy in va's colour replaces it and the shared page loses one reference.
  // A read or execution of a shared text page maps the image's page (filling it first if no space did);
  // a write to one not mapped yet (text made writable) fills a private page, as without the cache.
  // O(log n) plus a page's zeroing or copy.
  FaultResult Fault(VirtAddr va, Access access);
  // fork: `child`, an empty UserVm over another user space with the same limits, gets a copy of every VMA,
  // the heap and the stack, and maps every page present here to the same page, its reference raised; the
  // pages of writable VMAs lose write in both spaces (this one's stale translations are shot down), so that
  // the first write on either side copies. kNoMemory (no node or page-table page) leaves both as they were.
  // O(n + pages mapped), no page copied.
  UserVmStatus Fork(UserVm& child);
  // The sentence the kernel prints when it kills the process for `result`, in buf (FormatTo's contract:
  // returns the length the whole sentence has).
  static size_t DescribeFault(const FaultResult& result, VirtAddr va, Access access, char* buf, size_t cap);

  // The kernel writes len bytes into the space at va whatever the protection, faulting pages in (the
  // initial stack with argv) and copying shared ones first. kNoVma (bytes before it written) when a byte
  // is outside every VMA.
  UserVmStatus Write(VirtAddr va, const void* src, uint64_t len);
  // The VMA containing va into *out, or false. O(log n).
  bool Lookup(VirtAddr va, Vma* out) const;

  // The text VMAs: their pages, how many of them their images hold (every space running the program maps
  // those same pages), and the fewest users any of their images has now and had at most (0: none is
  // shared). O(n + text pages).
  struct SharedText {
    uint64_t pages, held, users, most_users;
  };
  SharedText Text() const;

  // One ageing pass (9front's refage and modref, for reclaim to choose by): harvests the accessed and dirty
  // bits of every resident page (AddressSpace::Harvest, which shoots down what it cleared) into the page
  // through UserPages::age for pass `pass` (which ages a page once however many spaces map it), and counts
  // what the pages say. Pages that no translation used since the previous pass grow older. O(resident
  // pages), in runs of kAgeChunk pages under the space's lock, each with its shootdown.
  AgeCounts Age(uint64_t pass);
  static constexpr uint64_t kAgeChunk = 512;

  // Adds up the resident pages of every VMA into *resident and copies up to `cap` VMAs in address order
  // into out; returns the number of VMAs. O(n).
  uint64_t Stats(uint64_t* resident, Vma* out, uint64_t cap) const;
  // One line per VMA like Linux's /proc/PID/maps, with its resident pages:
  // "00400000-00401000 r-x text  resident 1". O(n).
  void Dump(FormatSink sink, void* ctx) const;
  // Unmaps everything, gives back every page and every node; the caller then releases the AddressSpace.
  void Teardown();
  // Checks the invariants above (the tree's, the user half, the reservation, the resident counts against
  // the page tables, no mergeable neighbours apart); panics with the VMA that breaks one. O(n + pages).
  void Validate() const;

 private:
  // [va, va + len rounded up) inside the user half into *end; the status otherwise.
  UserVmStatus CheckRange(VirtAddr va, uint64_t len, VirtAddr* end) const;
  bool InUserHalf(VirtAddr start, VirtAddr end) const;
  // Whether [start, end) meets no VMA and not the stack's reservation.
  bool IsFree(VirtAddr start, VirtAddr end) const;
  // The bottom of the stack's reservation (the guard gap's start), or hi without a stack.
  VirtAddr StackReserveBottom() const;
  VmaNode* NewNode(const Vma& vma);
  // Frees the node, its VMA's use of its image with it.
  void FreeNode(VmaNode* node);
  // Links a new VMA and merges it with its neighbours; false (nothing changed) without a node.
  bool AddVma(const Vma& vma);
  // Merges every pair of mergeable neighbours among the VMAs that meet or touch [start, end].
  void MergeAround(VirtAddr start, VirtAddr end);
  // Cuts node's VMA at `at` (inside it): the node keeps [start, at), `spare` takes [at, end).
  void Split(VmaNode* node, VirtAddr at, VmaNode* spare);
  // Unmaps [start, end) (which VMAs may cover only in part) and removes it from the VMAs; `spare` is a node
  // for the one split that can be needed (a VMA reaching past both ends), else nullptr.
  void RemoveRange(VirtAddr start, VirtAddr end, VmaNode* spare);
  // Whether RemoveRange(start, end) needs a spare node.
  bool RemoveNeedsNode(VirtAddr start, VirtAddr end) const;
  // Unmaps the pages mapped in [start, end), at most `most` of them, and puts them back; returns how many.
  uint64_t ReleasePages(VirtAddr start, VirtAddr end, uint64_t most);
  uint64_t CountResident(VirtAddr start, VirtAddr end) const;
  // Validate's walk of v's pages: each mapped with v's protection or that without write, and writable only
  // when its reference is the only one; returns how many are mapped.
  uint64_t CheckPages(const Vma& v) const;
  // Whether Resolve holds the access to the VMA's protection (a fault) or not (the kernel's Write).
  enum class ProtCheck : uint8_t { kYes, kNo };
  FaultResult Resolve(VirtAddr va, Access access, ProtCheck check);
  // A page for `page` of node's VMA, filled and mapped: the image's (shared text, not for a write) or its own.
  FaultStatus MapPage(VmaNode* node, VirtAddr page, Access access);
  // A new page for `page` of `v`, holding what v has there (its image's bytes, zero past them).
  bool NewFilled(const Vma& v, VirtAddr page, PhysAddr* pa);
  // Maps pa, whose reference the caller holds, at `page` of node's VMA with `prot`; the reference goes back
  // when the mapping fails.
  FaultStatus Install(VmaNode* node, VirtAddr page, PhysAddr pa, Prot prot);
  // A write to `page` of node's VMA, mapped to `pa` without write: pa made writable when its reference is
  // the only one (kept read-only in a read-only VMA), else replaced by a private copy.
  FaultStatus Unshare(VmaNode* node, VirtAddr page, PhysAddr pa);
  // Maps every page of parent's VMA `from` that parent maps into this space's copy `to`, sharing it.
  // False (what it mapped stays, counted in to's resident) when a table page is missing.
  bool ShareFrom(UserVm& parent, const Vma& from, VmaNode* to);

  AddressSpace& space_;
  UserPages pages_;
  DirectMap map_;
  VmaNodeSource nodes_;
  UserVmLimits limits_;
  ImageCache* images_;
  VmaTree tree_;
  bool heap_set_ = false;
  VirtAddr heap_base_;
  VirtAddr brk_;
  bool stack_set_ = false;
  VirtAddr stack_top_;
  VirtAddr stack_floor_;  // top - limit: the lowest address the stack may grow to
};

}  // namespace kmem
