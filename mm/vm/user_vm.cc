#include "mm/vm/user_vm.h"

#include "mm/base/panic.h"
#include "mm/vm/image.h"

namespace kmem {
namespace {

bool Mergeable(const Vma& a, const Vma& b) {
  return a.end == b.start && a.kind == b.kind && a.prot == b.prot && a.image == nullptr && b.image == nullptr;
}

// Drops the first `bytes` (whole pages) of an area's image when its start moves up by that much.
void AdvanceImage(Vma& v, uint64_t bytes) {
  if (v.image == nullptr) return;
  v.shared_index += bytes / kPageSize;
  if (v.image_size > bytes) {
    v.image += bytes;
    v.image_size -= bytes;
  } else {
    v.image_size = 0;  // stays image-backed (so never merges), with nothing left to copy
  }
}

Prot WithoutWrite(Prot p) { return Prot(static_cast<uint8_t>(p) & ~static_cast<uint8_t>(Prot::kWrite)); }

bool Allows(Prot prot, Access access) {
  switch (access) {
    case Access::kRead: return true;
    case Access::kWrite: return Has(prot, Prot::kWrite);
    case Access::kExec: return Has(prot, Prot::kExec);
  }
  return false;
}

// "r-x", as /proc/PID/maps writes it.
struct ProtText {
  explicit ProtText(Prot p) : text{'r', Has(p, Prot::kWrite) ? 'w' : '-', Has(p, Prot::kExec) ? 'x' : '-', 0} {}
  char text[4];
};

// "8 MiB", "64 KiB", "3 pages": a stack limit as the kill message says it.
void FormatBinary(char* buf, size_t cap, uint64_t bytes) {
  if (bytes != 0 && IsAligned(bytes, uint64_t{1} << 30)) {
    FormatTo(buf, cap, "%lu GiB", bytes >> 30);
  } else if (bytes != 0 && IsAligned(bytes, uint64_t{1} << 20)) {
    FormatTo(buf, cap, "%lu MiB", bytes >> 20);
  } else {
    FormatTo(buf, cap, "%lu KiB", bytes >> 10);
  }
}

}  // namespace

const char* Name(UserVmStatus status) {
  switch (status) {
    case UserVmStatus::kOk: return "ok";
    case UserVmStatus::kMisaligned: return "misaligned";
    case UserVmStatus::kZeroLength: return "zero length";
    case UserVmStatus::kOutOfRange: return "outside the user half";
    case UserVmStatus::kOverlap: return "overlaps a VMA or the stack's reservation";
    case UserVmStatus::kNoGap: return "no gap large enough";
    case UserVmStatus::kNoMemory: return "no memory";
    case UserVmStatus::kNoVma: return "outside every VMA";
    case UserVmStatus::kNoHeap: return "no heap set";
    case UserVmStatus::kAlreadySet: return "already set";
    case UserVmStatus::kBadArgument: return "bad argument";
  }
  return "?";
}

const char* Name(FaultStatus status) {
  switch (status) {
    case FaultStatus::kResolved: return "resolved";
    case FaultStatus::kNoVma: return "no VMA";
    case FaultStatus::kProtection: return "protection";
    case FaultStatus::kKernelAddress: return "kernel address";
    case FaultStatus::kStackLimit: return "stack limit";
    case FaultStatus::kNoMemory: return "no memory";
  }
  return "?";
}

UserVm::UserVm(AddressSpace& space, UserPages pages, const DirectMap& map, VmaNodeSource nodes,
               UserVmLimits limits, ImageCache* images)
    : space_(space), pages_(pages), map_(map), nodes_(nodes), limits_(limits), images_(images) {
  KASSERT(space.kind() == AddressSpace::Kind::kUser, "UserVm over %s, which is not a user space", space.name());
  KASSERT(limits.lo.IsAlignedTo(kPageSize) && limits.hi.IsAlignedTo(kPageSize) && limits.lo < limits.hi &&
              limits.stack_guard >= kPageSize && IsAligned(limits.stack_guard, kPageSize),
          "user half 0x%lx-0x%lx with a guard of 0x%lx bytes: not whole pages", limits.lo.value(),
          limits.hi.value(), limits.stack_guard);
}

UserVm::~UserVm() {
  KASSERT(tree_.empty(), "%s: UserVm destroyed with %lu VMAs: Teardown did not run", space_.name(), tree_.size());
}

// ---- ranges and nodes

bool UserVm::InUserHalf(VirtAddr start, VirtAddr end) const {
  return limits_.lo <= start && start < end && end <= limits_.hi;
}

UserVmStatus UserVm::CheckRange(VirtAddr va, uint64_t len, VirtAddr* end) const {
  if (!va.IsAlignedTo(kPageSize)) return UserVmStatus::kMisaligned;
  if (len == 0) return UserVmStatus::kZeroLength;
  uint64_t bytes;
  if (!AlignUp(len, kPageSize, &bytes) || bytes > UINT64_MAX - va.value()) return UserVmStatus::kOutOfRange;
  *end = va + bytes;
  return InUserHalf(va, *end) ? UserVmStatus::kOk : UserVmStatus::kOutOfRange;
}

VirtAddr UserVm::StackReserveBottom() const {
  return stack_set_ ? stack_floor_ - limits_.stack_guard : limits_.hi;
}

bool UserVm::IsFree(VirtAddr start, VirtAddr end) const {
  if (stack_set_ && start < stack_top_ && StackReserveBottom() < end) return false;
  const VmaNode* n = tree_.FirstEndingAbove(start);
  return n == nullptr || n->vma.start >= end;
}

VmaNode* UserVm::NewNode(const Vma& vma) {
  auto* node = static_cast<VmaNode*>(nodes_.alloc(nodes_.ctx));
  if (node != nullptr) *node = VmaNode{vma, nullptr, nullptr, nullptr, 0};
  return node;
}

void UserVm::FreeNode(VmaNode* node) {
  if (node->vma.shared != nullptr) images_->Release(node->vma.shared, pages_);
  nodes_.free(nodes_.ctx, node);
}

bool UserVm::AddVma(const Vma& vma) {
  VmaNode* node = NewNode(vma);
  if (node == nullptr) return false;
  tree_.Insert(node);
  MergeAround(vma.start, vma.end);
  return true;
}

void UserVm::MergeAround(VirtAddr start, VirtAddr end) {
  VmaNode* n = tree_.LastStartingBelow(start);
  if (n == nullptr) n = tree_.First();
  while (n != nullptr) {
    VmaNode* next = VmaTree::Next(n);
    if (next == nullptr || next->vma.start > end) return;
    if (Mergeable(n->vma, next->vma)) {
      n->vma.end = next->vma.end;
      n->vma.resident += next->vma.resident;
      tree_.Remove(next);
      FreeNode(next);
    } else {
      n = next;
    }
  }
}

// ---- pages

uint64_t UserVm::CountResident(VirtAddr start, VirtAddr end) const {
  uint64_t n = 0;
  VmMapping m;
  for (VirtAddr va = start; va < end; va = va + kPageSize) n += space_.Query(va, &m) == VmStatus::kOk;
  return n;
}

uint64_t UserVm::CheckPages(const Vma& v) const {
  uint64_t n = 0;
  VmMapping m;
  for (VirtAddr va = v.start; va < v.end; va = va + kPageSize) {
    if (space_.Query(va, &m) != VmStatus::kOk) continue;
    ++n;
    KASSERT(m.prot == v.prot || m.prot == WithoutWrite(v.prot), "%s: page 0x%lx has prot %u in a VMA of prot %u",
            space_.name(), va.value(), static_cast<unsigned>(m.prot), static_cast<unsigned>(v.prot));
    KASSERT(!Has(m.prot, Prot::kWrite) || pages_.sole(pages_.ctx, m.pa),
            "%s: page 0x%lx is mapped writable but shared (pa 0x%lx): a write would reach the other holders",
            space_.name(), va.value(), m.pa.value());
  }
  return n;
}

uint64_t UserVm::ReleasePages(VirtAddr start, VirtAddr end, uint64_t most) {
  uint64_t released = 0;
  PhysAddr pas[kUnmapChunk];
  for (VirtAddr va = start; va < end && released < most;) {
    VirtAddr chunk_end = end - va > kUnmapChunk * kPageSize ? va + kUnmapChunk * kPageSize : end;
    unsigned n = 0;
    VmMapping m;
    for (VirtAddr p = va; p < chunk_end && released + n < most; p = p + kPageSize) {
      if (space_.Query(p, &m) == VmStatus::kOk) pas[n++] = m.pa;
    }
    if (n != 0) {
      // Unmapped (and shot down) before the pages go back, so no CPU can reach a page once it is reused.
      VmStatus s = space_.Unmap(va, chunk_end - va);
      KASSERT(s == VmStatus::kOk, "%s: unmap of 0x%lx-0x%lx failed: %s", space_.name(), va.value(),
              chunk_end.value(), VmStatusName(s));
      for (unsigned i = 0; i < n; ++i) pages_.put_page(pages_.ctx, pas[i]);
    }
    released += n;
    va = chunk_end;
  }
  return released;
}

bool UserVm::NewFilled(const Vma& v, VirtAddr page, PhysAddr* pa) {
  if (!pages_.new_page(pages_.ctx, page, pa)) return false;
  auto* bytes = map_.Kaddr<uint8_t>(*pa);
  uint64_t offset = page - v.start, copied = 0;
  if (v.image != nullptr && offset < v.image_size) {
    copied = Min(v.image_size - offset, kPageSize);
    __builtin_memcpy(bytes, v.image + offset, copied);
  }
  __builtin_memset(bytes + copied, 0, kPageSize - copied);
  return true;
}

FaultStatus UserVm::MapPage(VmaNode* node, VirtAddr page, Access access) {
  const Vma& v = node->vma;
  PhysAddr pa;
  if (v.shared == nullptr || access == Access::kWrite) {
    if (!NewFilled(v, page, &pa)) return FaultStatus::kNoMemory;
    return Install(node, page, pa, v.prot);
  }
  const uint64_t index = v.shared_index + (page - v.start) / kPageSize;
  if (!images_->Lookup(v.shared, index, pages_, &pa)) {
    PhysAddr fresh;
    if (!NewFilled(v, page, &fresh)) return FaultStatus::kNoMemory;
    pa = images_->Enter(v.shared, index, fresh, pages_);
  }
  // Never writable: the image's reference makes it shared, so the first write copies it.
  return Install(node, page, pa, WithoutWrite(v.prot));
}

FaultStatus UserVm::Install(VmaNode* node, VirtAddr page, PhysAddr pa, Prot prot) {
  VmStatus s = space_.Map(page, pa, kPageSize, prot, CacheMode::kCached);
  if (s != VmStatus::kOk) {
    KASSERT(s == VmStatus::kNoMemory, "%s: map of 0x%lx failed: %s", space_.name(), page.value(), VmStatusName(s));
    pages_.put_page(pages_.ctx, pa);
    return FaultStatus::kNoMemory;
  }
  ++node->vma.resident;
  return FaultStatus::kResolved;
}

FaultStatus UserVm::Unshare(VmaNode* node, VirtAddr page, PhysAddr pa) {
  const Vma& v = node->vma;
  if (pages_.sole(pages_.ctx, pa)) {
    if (Has(v.prot, Prot::kWrite)) {
      VmStatus s = space_.Protect(page, kPageSize, v.prot);
      KASSERT(s == VmStatus::kOk, "%s: protect of 0x%lx failed: %s", space_.name(), page.value(), VmStatusName(s));
    }
    return FaultStatus::kResolved;
  }
  PhysAddr copy;
  if (!pages_.new_page(pages_.ctx, page, &copy)) return FaultStatus::kNoMemory;
  __builtin_memcpy(map_.Kaddr<uint8_t>(copy), map_.Kaddr<uint8_t>(pa), kPageSize);
  // In place of the shared page (shot down before it loses this reference): no table to make, no failure.
  VmStatus s = space_.Remap(page, copy, v.prot);
  KASSERT(s == VmStatus::kOk, "%s: remap of 0x%lx failed: %s", space_.name(), page.value(), VmStatusName(s));
  pages_.put_page(pages_.ctx, pa);
  return FaultStatus::kResolved;
}

bool UserVm::ShareFrom(UserVm& parent, const Vma& from, VmaNode* to) {
  const Prot prot = WithoutWrite(from.prot);
  VmMapping m;
  for (VirtAddr va = from.start; va < from.end; va = va + kPageSize) {
    if (parent.space_.Query(va, &m) != VmStatus::kOk) continue;
    pages_.ref(pages_.ctx, m.pa);
    if (Install(to, va, m.pa, prot) != FaultStatus::kResolved) return false;
  }
  return true;
}

// ---- splitting and removing

void UserVm::Split(VmaNode* node, VirtAddr at, VmaNode* spare) {
  Vma& left = node->vma;
  KASSERT(left.start < at && at < left.end, "split of 0x%lx-0x%lx at 0x%lx, which is not inside it",
          left.start.value(), left.end.value(), at.value());
  Vma right = left;
  right.start = at;
  AdvanceImage(right, at - left.start);
  if (right.shared != nullptr) images_->Retain(right.shared);
  // Count the smaller side's pages; the other has the rest.
  if (at - left.start <= left.end - at) {
    right.resident = left.resident - CountResident(left.start, at);
  } else {
    right.resident = CountResident(at, left.end);
  }
  left.resident -= right.resident;
  left.end = at;
  spare->vma = right;
  tree_.Insert(spare);
}

bool UserVm::RemoveNeedsNode(VirtAddr start, VirtAddr end) const {
  const VmaNode* n = tree_.FirstEndingAbove(start);
  return n != nullptr && n->vma.start < start && n->vma.end > end;
}

void UserVm::RemoveRange(VirtAddr start, VirtAddr end, VmaNode* spare) {
  VmaNode* n = tree_.FirstEndingAbove(start);
  if (n != nullptr && n->vma.start < start && n->vma.end > end) {
    KASSERT(spare != nullptr, "removing 0x%lx-0x%lx from the middle of a VMA needs a node", start.value(),
            end.value());
    Split(n, end, spare);
  }
  while (n != nullptr && n->vma.start < end) {
    VmaNode* next = VmaTree::Next(n);
    Vma& v = n->vma;
    VirtAddr cut_start = Max(start, v.start), cut_end = Min(end, v.end);
    v.resident -= ReleasePages(cut_start, cut_end, v.resident);
    if (cut_start == v.start && cut_end == v.end) {
      KASSERT(v.resident == 0, "VMA 0x%lx-0x%lx still counts %lu pages once unmapped", v.start.value(),
              v.end.value(), v.resident);
      tree_.Remove(n);
      FreeNode(n);
    } else if (cut_start == v.start) {
      AdvanceImage(v, cut_end - v.start);
      v.start = cut_end;
    } else {
      v.end = cut_start;
    }
    n = next;
  }
}

// ---- the operations

UserVmStatus UserVm::AddImage(VirtAddr start, uint64_t size, Prot prot, VmaKind kind, const uint8_t* image,
                              uint64_t image_size) {
  if (kind != VmaKind::kText && kind != VmaKind::kData && kind != VmaKind::kBss) return UserVmStatus::kBadArgument;
  if (image_size > size || (image_size != 0 && image == nullptr) || (kind == VmaKind::kBss && image_size != 0)) {
    return UserVmStatus::kBadArgument;
  }
  VirtAddr end;
  if (UserVmStatus s = CheckRange(start, size, &end); s != UserVmStatus::kOk) return s;
  if (!IsFree(start, end)) return UserVmStatus::kOverlap;
  Vma v{start, end, prot, kind, image_size != 0 ? image : nullptr, image_size, 0, nullptr, 0};
  if (kind == VmaKind::kText && images_ != nullptr && v.image != nullptr) {
    v.shared = images_->Acquire(ImageKey{v.image, image_size, v.size() / kPageSize});
    if (v.shared == nullptr) return UserVmStatus::kNoMemory;
  }
  if (AddVma(v)) return UserVmStatus::kOk;
  if (v.shared != nullptr) images_->Release(v.shared, pages_);
  return UserVmStatus::kNoMemory;
}

UserVmStatus UserVm::SetHeap(VirtAddr base) {
  if (heap_set_) return UserVmStatus::kAlreadySet;
  if (base < limits_.lo || base >= limits_.hi) return UserVmStatus::kOutOfRange;
  heap_set_ = true;
  heap_base_ = brk_ = base;
  return UserVmStatus::kOk;
}

UserVmStatus UserVm::Brk(VirtAddr new_end, VirtAddr* now) {
  *now = brk_;
  if (!heap_set_) return UserVmStatus::kNoHeap;
  if (new_end == VirtAddr(0)) return UserVmStatus::kOk;
  uint64_t old_top = 0, new_top = 0;
  if (new_end < heap_base_ || !AlignUp(new_end.value(), kPageSize, &new_top) || new_top > limits_.hi.value()) {
    return UserVmStatus::kOutOfRange;
  }
  AlignUp(brk_.value(), kPageSize, &old_top);
  const VirtAddr from(old_top), to(new_top);
  if (to > from) {
    if (!IsFree(from, to)) return UserVmStatus::kOverlap;
    if (!AddVma(Vma{from, to, Prot::kWrite, VmaKind::kHeap, nullptr, 0, 0, nullptr, 0})) return UserVmStatus::kNoMemory;
  } else if (to < from) {
    VmaNode* spare = nullptr;
    if (RemoveNeedsNode(to, from) && (spare = NewNode(Vma{})) == nullptr) return UserVmStatus::kNoMemory;
    RemoveRange(to, from, spare);
  }
  *now = brk_ = new_end;
  return UserVmStatus::kOk;
}

UserVmStatus UserVm::SetStack(VirtAddr top, uint64_t limit) {
  if (stack_set_) return UserVmStatus::kAlreadySet;
  if (!top.IsAlignedTo(kPageSize) || !IsAligned(limit, kPageSize)) return UserVmStatus::kMisaligned;
  const uint64_t start_bytes = kStackStartPages * kPageSize;
  if (limit < start_bytes) return UserVmStatus::kBadArgument;
  if (top > limits_.hi || top.value() < limits_.lo.value() + limits_.stack_guard ||
      top.value() - limits_.lo.value() - limits_.stack_guard < limit) {
    return UserVmStatus::kOutOfRange;
  }
  const VirtAddr floor = top - limit;
  if (!IsFree(floor - limits_.stack_guard, top)) return UserVmStatus::kOverlap;
  if (!AddVma(Vma{top - start_bytes, top, Prot::kWrite, VmaKind::kStack, nullptr, 0, 0, nullptr, 0})) {
    return UserVmStatus::kNoMemory;
  }
  stack_set_ = true;
  stack_top_ = top;
  stack_floor_ = floor;
  return UserVmStatus::kOk;
}

UserVmStatus UserVm::Mmap(VirtAddr hint, uint64_t len, Prot prot, VirtAddr* out) {
  if (len == 0) return UserVmStatus::kZeroLength;
  uint64_t bytes;
  if (!AlignUp(len, kPageSize, &bytes)) return UserVmStatus::kOutOfRange;
  VirtAddr at = hint.AlignedDown(kPageSize);
  bool found = hint != VirtAddr(0) && bytes <= UINT64_MAX - at.value() && InUserHalf(at, at + bytes) &&
               IsFree(at, at + bytes);
  // Top-down: the gaps below the ceiling, highest first.
  VirtAddr ceiling = StackReserveBottom();
  for (VmaNode* n = tree_.LastStartingBelow(ceiling); !found;) {
    VirtAddr gap_lo = n != nullptr ? Max(n->vma.end, limits_.lo) : limits_.lo;
    if (gap_lo <= ceiling && ceiling - gap_lo >= bytes) {
      at = ceiling - bytes;
      found = true;
    } else if (n == nullptr) {
      return UserVmStatus::kNoGap;
    } else {
      ceiling = Min(ceiling, n->vma.start);
      n = VmaTree::Prev(n);
    }
  }
  if (!AddVma(Vma{at, at + bytes, prot, VmaKind::kAnon, nullptr, 0, 0, nullptr, 0})) return UserVmStatus::kNoMemory;
  *out = at;
  return UserVmStatus::kOk;
}

UserVmStatus UserVm::Munmap(VirtAddr va, uint64_t len) {
  VirtAddr end;
  if (UserVmStatus s = CheckRange(va, len, &end); s != UserVmStatus::kOk) return s;
  VmaNode* spare = nullptr;
  if (RemoveNeedsNode(va, end) && (spare = NewNode(Vma{})) == nullptr) return UserVmStatus::kNoMemory;
  RemoveRange(va, end, spare);
  return UserVmStatus::kOk;
}

UserVmStatus UserVm::Mprotect(VirtAddr va, uint64_t len, Prot prot) {
  VirtAddr end;
  if (UserVmStatus s = CheckRange(va, len, &end); s != UserVmStatus::kOk) return s;
  VmaNode* first = tree_.FirstEndingAbove(va);
  VmaNode* last = first;
  for (VirtAddr covered = va;;) {
    if (last == nullptr || last->vma.start > covered) return UserVmStatus::kNoVma;
    if (last->vma.end >= end) break;
    covered = last->vma.end;
    last = VmaTree::Next(last);
  }
  // A VMA cut at either end needs a node for its other part; take both before changing anything.
  const bool cut_first = first->vma.start < va && first->vma.prot != prot;
  const bool cut_last = last->vma.end > end && last->vma.prot != prot;
  VmaNode* spares[2] = {cut_first ? NewNode(Vma{}) : nullptr, cut_last ? NewNode(Vma{}) : nullptr};
  if ((cut_first && spares[0] == nullptr) || (cut_last && spares[1] == nullptr)) {
    for (VmaNode* s : spares) {
      if (s != nullptr) FreeNode(s);
    }
    return UserVmStatus::kNoMemory;
  }
  if (cut_first) {
    Split(first, va, spares[0]);
    if (last == first) last = spares[0];
    first = spares[0];
  }
  if (cut_last) Split(last, end, spares[1]);
  for (VmaNode* n = first; n != nullptr && n->vma.start < end; n = VmaTree::Next(n)) {
    Vma& v = n->vma;
    if (v.prot == prot) continue;
    v.prot = prot;
    if (v.resident != 0) {
      VmStatus s = space_.Protect(v.start, v.size(), WithoutWrite(prot));
      KASSERT(s == VmStatus::kOk, "%s: protect of 0x%lx-0x%lx failed: %s", space_.name(), v.start.value(),
              v.end.value(), VmStatusName(s));
    }
  }
  MergeAround(va, end);
  return UserVmStatus::kOk;
}

// ---- faults

FaultResult UserVm::Resolve(VirtAddr va, Access access, ProtCheck check) {
  FaultResult r{FaultStatus::kNoVma, Vma{}, 0};
  if (va >= limits_.hi) {
    r.status = FaultStatus::kKernelAddress;
    return r;
  }
  const VirtAddr page = va.AlignedDown(kPageSize);
  VmaNode* n = tree_.Find(va);
  bool grows = false;  // the fault grows the stack down from grown_from
  VirtAddr grown_from;
  if (n == nullptr) {
    if (!stack_set_ || va < StackReserveBottom() || va >= stack_top_) return r;
    VmaNode* above = tree_.FirstEndingAbove(va);
    if (above == nullptr || above->vma.kind != VmaKind::kStack) return r;
    r.vma = above->vma;
    if (va < stack_floor_) {
      r.status = FaultStatus::kStackLimit;
      r.stack_limit = stack_top_ - stack_floor_;
      return r;
    }
    n = above;
    grows = true;
    grown_from = n->vma.start;
  }
  r.vma = n->vma;
  if (check == ProtCheck::kYes && !Allows(n->vma.prot, access)) {
    r.status = FaultStatus::kProtection;
    return r;
  }
  VmMapping m;
  if (space_.Query(page, &m) == VmStatus::kOk) {
    // Mapped already: copy-on-write, or another access got here first, or a stale entry.
    const bool cow = access == Access::kWrite && !Has(m.prot, Prot::kWrite);
    r.status = cow ? Unshare(n, page, m.pa.AlignedDown(kPageSize)) : FaultStatus::kResolved;
    return r;
  }
  // Growing moves the stack VMA's start down in place: nothing lies in between, the reservation is the stack's.
  if (grows) n->vma.start = page;
  r.status = MapPage(n, page, access);
  if (!grows) {
    r.vma = n->vma;
  } else if (r.status != FaultStatus::kResolved) {
    n->vma.start = grown_from;
  } else {
    MergeAround(page, grown_from);
    r.vma = tree_.Find(va)->vma;
  }
  return r;
}

FaultResult UserVm::Fault(VirtAddr va, Access access) { return Resolve(va, access, ProtCheck::kYes); }

UserVmStatus UserVm::Fork(UserVm& child) {
  KASSERT(&child.space_ != &space_ && child.tree_.empty() && !child.heap_set_ && !child.stack_set_,
          "%s: fork into %s, which is not an empty UserVm over another space", space_.name(), child.space_.name());
  KASSERT(child.limits_.lo == limits_.lo && child.limits_.hi == limits_.hi &&
              child.limits_.stack_guard == limits_.stack_guard && child.images_ == images_,
          "%s: fork into %s, whose user half or image cache differs", space_.name(), child.space_.name());
  for (VmaNode* n = tree_.First(); n != nullptr; n = VmaTree::Next(n)) {
    Vma copy = n->vma;
    copy.resident = 0;
    VmaNode* c = child.NewNode(copy);
    if (c != nullptr) {
      if (copy.shared != nullptr) images_->Retain(copy.shared);
      child.tree_.Insert(c);
    }
    if (c == nullptr || !child.ShareFrom(*this, n->vma, c)) {
      child.Teardown();  // its references dropped, this space's pages are as they were
      return UserVmStatus::kNoMemory;
    }
  }
  // Only now, when nothing can fail: the caller's thread is in the kernel, so nothing wrote in between.
  for (VmaNode* n = tree_.First(); n != nullptr; n = VmaTree::Next(n)) {
    const Vma& v = n->vma;
    if (v.resident == 0 || !Has(v.prot, Prot::kWrite)) continue;
    VmStatus s = space_.Protect(v.start, v.size(), WithoutWrite(v.prot));
    KASSERT(s == VmStatus::kOk, "%s: protect of 0x%lx-0x%lx failed: %s", space_.name(), v.start.value(),
            v.end.value(), VmStatusName(s));
  }
  child.heap_set_ = heap_set_;
  child.heap_base_ = heap_base_;
  child.brk_ = brk_;
  child.stack_set_ = stack_set_;
  child.stack_top_ = stack_top_;
  child.stack_floor_ = stack_floor_;
  return UserVmStatus::kOk;
}

UserVmStatus UserVm::Write(VirtAddr va, const void* src, uint64_t len) {
  const auto* from = static_cast<const uint8_t*>(src);
  if (len > UINT64_MAX - va.value()) return UserVmStatus::kOutOfRange;
  while (len != 0) {
    FaultResult r = Resolve(va, Access::kWrite, ProtCheck::kNo);
    if (r.status == FaultStatus::kNoMemory) return UserVmStatus::kNoMemory;
    if (r.status != FaultStatus::kResolved) return UserVmStatus::kNoVma;
    VmMapping m;
    VmStatus s = space_.Query(va, &m);
    KASSERT(s == VmStatus::kOk, "%s: 0x%lx not mapped after its fault resolved", space_.name(), va.value());
    uint64_t n = Min(len, kPageSize - (va.value() & (kPageSize - 1)));
    __builtin_memcpy(map_.Kaddr<uint8_t>(m.pa), from, n);
    va = va + n;
    from += n;
    len -= n;
  }
  return UserVmStatus::kOk;
}

size_t UserVm::DescribeFault(const FaultResult& r, VirtAddr va, Access access, char* buf, size_t cap) {
  static constexpr const char* kAccess[] = {"read of", "write to", "execution of"};
  static constexpr const char* kForbids[] = {"reads", "writes", "execution"};
  const char* what = kAccess[static_cast<unsigned>(access)];
  const Vma& v = r.vma;
  switch (r.status) {
    case FaultStatus::kResolved:
      return FormatTo(buf, cap, "%s 0x%lx in %s VMA 0x%lx-0x%lx resolved", what, va.value(), Name(v.kind),
                      v.start.value(), v.end.value());
    case FaultStatus::kNoVma:
      return FormatTo(buf, cap, "%s 0x%lx outside every VMA", what, va.value());
    case FaultStatus::kProtection:
      return FormatTo(buf, cap, "%s 0x%lx in %s VMA 0x%lx-0x%lx %s, which forbids %s", what, va.value(),
                      Name(v.kind), v.start.value(), v.end.value(), ProtText(v.prot).text,
                      kForbids[static_cast<unsigned>(access)]);
    case FaultStatus::kKernelAddress:
      return FormatTo(buf, cap, "%s 0x%lx, a kernel address", what, va.value());
    case FaultStatus::kStackLimit: {
      char limit[32];
      FormatBinary(limit, sizeof limit, r.stack_limit);
      return FormatTo(buf, cap, "stack access at 0x%lx below its limit of %s (guard gap)", va.value(), limit);
    }
    case FaultStatus::kNoMemory:
      return FormatTo(buf, cap, "%s 0x%lx in %s VMA 0x%lx-0x%lx: no memory for a page", what, va.value(),
                      Name(v.kind), v.start.value(), v.end.value());
  }
  return FormatTo(buf, cap, "%s 0x%lx: fault status %u", what, va.value(), static_cast<unsigned>(r.status));
}

// ---- reports and teardown

bool UserVm::Lookup(VirtAddr va, Vma* out) const {
  const VmaNode* n = tree_.Find(va);
  if (n != nullptr) *out = n->vma;
  return n != nullptr;
}

UserVm::SharedText UserVm::Text() const {
  SharedText t{0, 0, 0, 0};
  for (const VmaNode* n = tree_.First(); n != nullptr; n = VmaTree::Next(const_cast<VmaNode*>(n))) {
    const Vma& v = n->vma;
    if (v.kind != VmaKind::kText) continue;
    const uint64_t pages = v.size() / kPageSize;
    t.pages += pages;
    if (v.shared == nullptr) continue;
    t.held += images_->Held(v.shared, v.shared_index, pages);
    const ImageCache::Users users = images_->UsersOf(v.shared);
    t.users = t.users == 0 ? users.now : Min(t.users, users.now);
    t.most_users = t.most_users == 0 ? users.most : Min(t.most_users, users.most);
  }
  return t;
}

uint64_t UserVm::Stats(uint64_t* resident, Vma* out, uint64_t cap) const {
  uint64_t i = 0;
  *resident = 0;
  for (const VmaNode* n = tree_.First(); n != nullptr; n = VmaTree::Next(const_cast<VmaNode*>(n)), ++i) {
    *resident += n->vma.resident;
    if (i < cap) out[i] = n->vma;
  }
  return i;
}

size_t FormatAge(const AgeCounts& c, char* buf, size_t cap) {
  size_t len = FormatTo(buf, cap, "%lu pages: referenced %lu, modified %lu, ages", c.pages, c.referenced, c.modified);
  for (unsigned b = 0; b < AgeCounts::kBuckets; ++b) {
    len += FormatTo(buf + Min(len, cap), cap - Min(len, cap), " %s:%lu", AgeCounts::kBucketNames[b], c.ages[b]);
  }
  return len;
}

AgeCounts UserVm::Age(uint64_t pass) {
  KASSERT(pages_.age != nullptr, "%s: an ageing pass without a UserPages::age hook", space_.name());
  struct Pass {
    UserPages& pages;
    uint64_t pass;
    AgeCounts counts;
  } p{pages_, pass, {}};
  const HarvestFn visit = [](void* ctx, VirtAddr, PhysAddr pa, AccessBits found) {
    Pass& q = *static_cast<Pass*>(ctx);
    q.counts.Count(q.pages.age(q.pages.ctx, pa, found, q.pass));
  };
  for (const VmaNode* n = tree_.First(); n != nullptr; n = VmaTree::Next(const_cast<VmaNode*>(n))) {
    if (n->vma.resident == 0) continue;
    for (VirtAddr at = n->vma.start; at < n->vma.end;) {
      const uint64_t len = Min(n->vma.end - at, kAgeChunk * kPageSize);
      const VmStatus s = space_.Harvest(at, len, visit, &p);
      KASSERT(s == VmStatus::kOk, "%s: harvest of 0x%lx-0x%lx in a VMA: %s", space_.name(), at.value(),
              (at + len).value(), VmStatusName(s));
      at = at + len;
    }
  }
  return p.counts;
}

void UserVm::Dump(FormatSink sink, void* ctx) const {
  for (const VmaNode* n = tree_.First(); n != nullptr; n = VmaTree::Next(const_cast<VmaNode*>(n))) {
    const Vma& v = n->vma;
    char line[96];
    size_t len = FormatTo(line, sizeof line, "%08lx-%08lx %s %-5s resident %lu\n", v.start.value(), v.end.value(),
                          ProtText(v.prot).text, Name(v.kind), v.resident);
    sink(ctx, line, Min(len, sizeof line - 1));
  }
}

void UserVm::Teardown() {
  while (VmaNode* n = tree_.First()) {
    n->vma.resident -= ReleasePages(n->vma.start, n->vma.end, n->vma.resident);
    KASSERT(n->vma.resident == 0, "%s: VMA 0x%lx-0x%lx counts %lu pages it does not map", space_.name(),
            n->vma.start.value(), n->vma.end.value(), n->vma.resident);
    tree_.Remove(n);
    FreeNode(n);
  }
  heap_set_ = stack_set_ = false;
}

void UserVm::Validate() const {
  tree_.Validate();
  const VmaNode* prev = nullptr;
  for (const VmaNode* n = tree_.First(); n != nullptr; prev = n, n = VmaTree::Next(const_cast<VmaNode*>(n))) {
    const Vma& v = n->vma;
    KASSERT(InUserHalf(v.start, v.end), "%s: VMA 0x%lx-0x%lx is outside the user half", space_.name(),
            v.start.value(), v.end.value());
    KASSERT(!stack_set_ || v.kind == VmaKind::kStack || v.end <= StackReserveBottom() || v.start >= stack_top_,
            "%s: %s VMA 0x%lx-0x%lx lies in the stack's reservation", space_.name(), Name(v.kind), v.start.value(),
            v.end.value());
    const uint64_t mapped = CheckPages(v);
    KASSERT(v.resident == mapped, "%s: VMA 0x%lx-0x%lx counts %lu resident pages but %lu are mapped", space_.name(),
            v.start.value(), v.end.value(), v.resident, mapped);
    KASSERT(prev == nullptr || !Mergeable(prev->vma, v), "%s: VMAs 0x%lx-0x%lx and 0x%lx-0x%lx should be one",
            space_.name(), prev->vma.start.value(), prev->vma.end.value(), v.start.value(), v.end.value());
  }
}

}  // namespace kmem
