// A reference model of UserVm for the property test and the fuzz target: the user half is a small window
// of pages, each either outside every VMA or in one, with the VMA's protection, kind and image bytes, a flag
// where a VMA starts, and whether the page is resident with the word its first 8 bytes hold. Every
// operation is brute force over the pages; VMAs merge by the same rule as UserVm's (same kind and
// protection, both anonymous), applied to every boundary after every step, so the model's list is the
// canonical one UserVm promises.
//
// UserVmRun drives a UserVm and the model with one stream of choices (Source::Pick(n) gives 0..n-1) and after
// each step compares: the status, the VMA list (Stats) with protections, kinds and resident counts, every
// page of the window through AddressSpace::Query (mapped exactly where the model has a resident page, with
// the VMA's protection, holding the model's word), and UserVm::Validate. At the end Teardown must give back
// every page (palloc's free count as before), every node and every mapping. A mismatch aborts with what
// differed, so a fuzzer and a death test see it.
//
// Fork trees: UserVmRun::Fork starts a child run over another space from a parent's, and the runs of one
// tree share a UserVmFrames, the model's page frames with their reference counts. Each resident model page
// names its frame; a fork raises the count of every resident page and marks those of writable VMAs
// copy-on-write in both (mapped without write), a write to a shared frame gives the writer a new one, a
// write to a frame with one reference keeps it. After every step palloc's free count must be the tree's
// starting count less the frames alive, so a page freed twice, never, or copied when it need not be is
// caught; and each run's pages must hold its own words, so a write that reaches another space is caught.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "mm/vm/user_vm.h"
#include "testing/fake_aspace.h"
#include "testing/user_vm_host.h"

namespace kmem::testing {

#define VM_MODEL_CHECK(cond, ...)                                                      \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "user_vm_model: check '%s' failed: ", #cond);              \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fprintf(stderr, "\n");                                                      \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// The model's page frames across a fork tree: each alive frame's reference count.
struct UserVmFrames {
  explicit UserVmFrames(uint64_t free) : free_before(free) {}
  uint64_t New() {
    refs[next] = 1;
    return next++;
  }
  void Drop(uint64_t frame) {
    auto it = refs.find(frame);
    VM_MODEL_CHECK(it != refs.end(), "the model drops frame %lu, which is not alive", frame);
    if (--it->second == 0) refs.erase(it);
  }
  bool Shared(uint64_t frame) const { return refs.at(frame) > 1; }

  uint64_t free_before;  // palloc's free count when the tree started
  std::map<uint64_t, unsigned> refs;
  uint64_t next = 1;
};

inline Prot WithoutWrite(Prot p) { return Prot(static_cast<uint8_t>(p) & ~static_cast<uint8_t>(Prot::kWrite)); }

class UserVmModel {
 public:
  struct PageState {
    bool in = false;     // inside a VMA
    bool first = false;  // the first page of its VMA
    bool backed = false;
    Prot prot = Prot::kRead;
    VmaKind kind = VmaKind::kAnon;
    const uint8_t* image = nullptr;  // this page's image bytes (backed pages only)
    uint64_t image_bytes = 0;
    bool resident = false;
    uint64_t word = 0;   // the page's first 8 bytes while resident
    bool cow = false;    // resident in a writable VMA but mapped without write until its next write
    uint64_t frame = 0;  // while resident: its frame in UserVmFrames

    Prot mapped() const { return cow ? WithoutWrite(prot) : prot; }
  };

  UserVmModel(uint64_t lo, uint64_t pages, uint64_t guard, UserVmFrames& frames)
      : lo_(lo), guard_(guard), pages_(pages), frames_(&frames) {}

  uint64_t lo() const { return lo_; }
  uint64_t hi() const { return lo_ + pages_.size() * kPageSize; }
  uint64_t npages() const { return pages_.size(); }
  PageState& At(uint64_t va) { return pages_[(va - lo_) / kPageSize]; }
  bool Reserved(uint64_t va) const { return stack_set_ && va >= floor_ - guard_ && va < top_; }
  bool FreePage(uint64_t va) { return !At(va).in && !Reserved(va); }
  bool FreeRange(uint64_t s, uint64_t e) {
    for (uint64_t va = s; va < e; va += kPageSize) {
      if (!FreePage(va)) return false;
    }
    return true;
  }

  UserVmStatus Range(uint64_t va, uint64_t len, uint64_t* end) const {
    if (va % kPageSize != 0) return UserVmStatus::kMisaligned;
    if (len == 0) return UserVmStatus::kZeroLength;
    if (len > UINT64_MAX - (kPageSize - 1)) return UserVmStatus::kOutOfRange;
    const uint64_t bytes = (len + kPageSize - 1) / kPageSize * kPageSize;
    if (bytes > UINT64_MAX - va) return UserVmStatus::kOutOfRange;
    *end = va + bytes;
    return va >= lo_ && *end <= hi() ? UserVmStatus::kOk : UserVmStatus::kOutOfRange;
  }

  // Makes [s, e) one new VMA; image (nullptr: anonymous) gives its first image_size bytes.
  void Add(uint64_t s, uint64_t e, Prot prot, VmaKind kind, const uint8_t* image, uint64_t image_size) {
    for (uint64_t va = s; va < e; va += kPageSize) {
      PageState& p = At(va);
      uint64_t off = va - s;
      p = PageState{true, va == s, image != nullptr, prot, kind, nullptr, 0, false, 0, false, 0};
      if (image != nullptr && off < image_size) {
        p.image = image + off;
        p.image_bytes = image_size - off < kPageSize ? image_size - off : kPageSize;
      }
    }
    Cut(e);
    Normalise();
  }
  // A write to a resident page: a shared frame is replaced by the writer's own copy; it is writable after.
  void Written(PageState& p) {
    if (frames_->Shared(p.frame)) {
      frames_->Drop(p.frame);
      p.frame = frames_->New();
    }
    p.cow = false;
  }
  // fork: the child's model is this one, every resident frame gains a reference, and pages of writable
  // VMAs lose write on both sides.
  void ForkInto(UserVmModel& child) {
    for (PageState& p : pages_) {
      if (!p.resident) continue;
      ++frames_->refs.at(p.frame);
      p.cow = Has(p.prot, Prot::kWrite);
    }
    child = *this;
  }
  UserVmFrames& frames() { return *frames_; }

  // A VMA boundary at va (if a VMA page lies there).
  void Cut(uint64_t va) {
    if (va < hi()) At(va).first = true;
  }
  void Remove(uint64_t s, uint64_t e) {
    for (uint64_t va = s; va < e; va += kPageSize) {
      if (At(va).resident) frames_->Drop(At(va).frame);
      At(va) = PageState{};
    }
    Cut(e);
  }
  void Normalise() {
    for (uint64_t i = 0; i < pages_.size(); ++i) {
      PageState& p = pages_[i];
      if (!p.in) continue;
      if (i == 0 || !pages_[i - 1].in) {
        p.first = true;
        continue;
      }
      const PageState& q = pages_[i - 1];
      if (p.first && q.kind == p.kind && q.prot == p.prot && !q.backed && !p.backed) p.first = false;
    }
  }

  // The VMAs as Stats reports them.
  std::vector<Vma> Vmas() {
    std::vector<Vma> out;
    for (uint64_t i = 0; i < pages_.size(); ++i) {
      const PageState& p = pages_[i];
      if (!p.in) continue;
      uint64_t va = lo_ + i * kPageSize;
      if (p.first) {
        out.push_back(Vma{VirtAddr(va), VirtAddr(va), p.prot, p.kind, nullptr, 0, 0, nullptr, 0});
      }
      out.back().end = VirtAddr(va + kPageSize);
      out.back().resident += p.resident;
    }
    return out;
  }

  bool stack_set_ = false;
  uint64_t top_ = 0, floor_ = 0;
  bool heap_set_ = false;
  uint64_t heap_base_ = 0, brk_ = 0;

 private:
  uint64_t lo_;
  uint64_t guard_;
  std::vector<PageState> pages_;
  UserVmFrames* frames_;
};

// Both sides of one run: the UserVm under test over `space`, and the model.
template <typename Source>
class UserVmRun {
 public:
  static constexpr uint64_t kWindowPages = 256;

  // The window starts at `lo`, a user address of `space`; the user half ends at the window's end. A tree's
  // root passes the tree's frames; a lone run keeps its own.
  UserVmRun(Source& source, AddressSpace& space, HostUserPages& pages, const DirectMap& map, uint64_t lo,
            UserVmFrames* frames = nullptr)
      : src_(source),
        space_(space),
        pages_(pages),
        map_(map),
        guard_(kPageSize * (1 + source.Pick(2))),
        own_frames_(pages.palloc().FreeCount()),
        frames_(frames != nullptr ? *frames : own_frames_),
        model_(lo, kWindowPages, guard_, frames_),
        vm_(space, pages.source(), map, nodes_.source(), UserVmLimits{VirtAddr(lo), VirtAddr(model_.hi()), guard_}) {
    for (size_t i = 0; i < sizeof image_; ++i) image_[i] = static_cast<uint8_t>(i * 131 + 7 + (i >> 12));
  }
  // A child for Fork over `space`, with parent's window and frames. Its VMAs will take image bytes from the
  // parent's run, which must outlive it.
  UserVmRun(UserVmRun& parent, AddressSpace& space)
      : src_(parent.src_),
        space_(space),
        pages_(parent.pages_),
        map_(parent.map_),
        guard_(parent.guard_),
        own_frames_(0),
        frames_(parent.frames_),
        model_(parent.model_.lo(), kWindowPages, guard_, frames_),
        vm_(space, pages_.source(), map_, nodes_.source(),
            UserVmLimits{VirtAddr(model_.lo()), VirtAddr(model_.hi()), guard_}) {}

  // fork into `child` (made by the constructor above, fresh); now and then the child's node pool runs dry
  // part way, and the fork must fail with kNoMemory and leave both as they were. Returns whether it forked.
  bool Fork(UserVmRun& child) {
    last_op_ = "fork";
    const uint64_t vmas = model_.Vmas().size();
    const bool dry = vmas != 0 && src_.Pick(8) == 0;  // with no VMA a fork needs no node
    if (dry) child.nodes_.set_budget(static_cast<long>(src_.Pick(vmas)));
    const UserVmStatus got = vm_.Fork(child.vm_);
    child.nodes_.set_budget(-1);
    if (dry) {
      Expect(got, UserVmStatus::kNoMemory, "fork with no node left");
    } else {
      Expect(got, UserVmStatus::kOk, "fork");
      model_.ForkInto(child.model_);
    }
    Check("fork (parent)");
    child.Check("fork (child)");
    return got == UserVmStatus::kOk;
  }

  // The loader's steps: text and data with image bytes, bss, the heap after it, the stack near the top.
  void Load() {
    const uint64_t lo = model_.lo();
    const uint64_t text_pages = 1 + src_.Pick(3), data_pages = 1 + src_.Pick(2);
    const uint64_t data = lo + text_pages * kPageSize, bss = data + data_pages * kPageSize;
    AddImage(lo, text_pages * kPageSize, Prot::kExec, VmaKind::kText, image_, text_pages * kPageSize - 100);
    AddImage(data, data_pages * kPageSize, Prot::kWrite, VmaKind::kData, image_ + 3 * kPageSize + 16,
             src_.Pick(data_pages * kPageSize));
    AddImage(bss, kPageSize, Prot::kWrite, VmaKind::kBss, nullptr, 0);
    const uint64_t heap = bss + kPageSize - src_.Pick(64);
    Expect(vm_.SetHeap(VirtAddr(heap)), UserVmStatus::kOk, "set heap");
    model_.heap_set_ = true;
    model_.heap_base_ = model_.brk_ = heap;
    const uint64_t top = model_.hi() - kPageSize * src_.Pick(16);
    const uint64_t limit = kPageSize * (UserVm::kStackStartPages + src_.Pick(32));
    Expect(vm_.SetStack(VirtAddr(top), limit), UserVmStatus::kOk, "set stack");
    model_.stack_set_ = true;
    model_.top_ = top;
    model_.floor_ = top - limit;
    model_.Add(top - UserVm::kStackStartPages * kPageSize, top, Prot::kWrite, VmaKind::kStack, nullptr, 0);
    Check("load");
  }

  // One random operation, then the comparison.
  void Step() {
    // Now and then the node pool or the pages run dry for one operation: it must fail with kNoMemory and
    // change nothing, or succeed without needing what ran out.
    dry_ = src_.Pick(16) != 0 ? Dry::kNo : src_.Pick(2) == 0 ? Dry::kNodes : Dry::kPages;
    if (dry_ == Dry::kNodes) nodes_.set_budget(0);
    if (dry_ == Dry::kPages) pages_.set_budget(0);
    switch (src_.Pick(7)) {
      case 0: Mmap(); break;
      case 1: Munmap(); break;
      case 2: Mprotect(); break;
      case 3: Brk(); break;
      case 4: case 5: Fault(); break;
      default: Write(); break;
    }
    nodes_.set_budget(-1);
    pages_.set_budget(-1);
    dry_ = Dry::kNo;
    Check(last_op_);
  }

  // Teardown gives everything back: every page this run held alone, and one reference of those it shares.
  void Finish() {
    vm_.Teardown();
    model_.Remove(model_.lo(), model_.hi());
    for (uint64_t i = 0; i < model_.npages(); ++i) {
      VmMapping m;
      VM_MODEL_CHECK(space_.Query(VirtAddr(model_.lo() + i * kPageSize), &m) == VmStatus::kNotMapped,
                     "page 0x%lx still mapped after teardown", model_.lo() + i * kPageSize);
    }
    VM_MODEL_CHECK(nodes_.outstanding() == 0, "%zu VMA nodes not given back", nodes_.outstanding());
    CheckFrames("teardown");
  }

  UserVm& vm() { return vm_; }
  UserVmModel& model() { return model_; }
  AddressSpace& space() { return space_; }

  // palloc's free count against the frames the model's tree holds.
  void CheckFrames(const char* after) {
    const uint64_t want = frames_.free_before - frames_.refs.size();
    VM_MODEL_CHECK(pages_.palloc().FreeCount() == want, "after %s: palloc has %lu free pages, the model's frames %lu",
                   after, pages_.palloc().FreeCount(), want);
  }

  // Compares the UserVm with the model (see the file's comment).
  void Check(const char* after) {
    vm_.Validate();
    std::vector<Vma> got(model_.npages() + 1);
    uint64_t got_resident;
    got.resize(vm_.Stats(&got_resident, got.data(), got.size()));
    std::vector<Vma> want = model_.Vmas();
    VM_MODEL_CHECK(got.size() == want.size(), "after %s: %zu VMAs, the model has %zu", after, got.size(), want.size());
    uint64_t resident = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const Vma &g = got[i], &w = want[i];
      VM_MODEL_CHECK(g.start == w.start && g.end == w.end && g.prot == w.prot && g.kind == w.kind &&
                         g.resident == w.resident,
                     "after %s: VMA %zu is 0x%lx-0x%lx prot %u kind %u resident %lu, the model's 0x%lx-0x%lx prot %u "
                     "kind %u resident %lu",
                     after, i, g.start.value(), g.end.value(), static_cast<unsigned>(g.prot),
                     static_cast<unsigned>(g.kind), g.resident, w.start.value(), w.end.value(),
                     static_cast<unsigned>(w.prot), static_cast<unsigned>(w.kind), w.resident);
      resident += w.resident;
    }
    VM_MODEL_CHECK(got_resident == resident, "after %s: %lu resident pages in all, the model has %lu", after,
                   got_resident, resident);
    for (uint64_t i = 0; i < model_.npages(); ++i) {
      const uint64_t va = model_.lo() + i * kPageSize;
      const UserVmModel::PageState& p = model_.At(va);
      VmMapping m;
      VmStatus s = space_.Query(VirtAddr(va), &m);
      VM_MODEL_CHECK((s == VmStatus::kOk) == p.resident, "after %s: page 0x%lx is %s, the model says %s", after, va,
                     VmStatusName(s), p.resident ? "resident" : "not resident");
      if (!p.resident) continue;
      VM_MODEL_CHECK(m.prot == p.mapped(), "after %s: page 0x%lx has prot %u, the model %u (its VMA's %u)", after, va,
                     static_cast<unsigned>(m.prot), static_cast<unsigned>(p.mapped()), static_cast<unsigned>(p.prot));
      uint64_t word;
      std::memcpy(&word, map_.Kaddr<uint8_t>(m.pa), sizeof word);
      VM_MODEL_CHECK(word == p.word, "after %s: page 0x%lx holds 0x%lx, the model 0x%lx", after, va, word, p.word);
    }
    CheckFrames(after);
  }

 private:
  void Expect(UserVmStatus got, UserVmStatus want, const char* what) {
    VM_MODEL_CHECK(got == want, "%s: %s, the model expects %s", what, Name(got), Name(want));
  }
  // A status the model predicts, except that with no node left an operation the model expects to succeed
  // may fail with kNoMemory (whether it needs a node depends on the splits), and then must have changed
  // nothing: the next Check compares against the unchanged model. Returns whether the operation happened.
  bool Happened(UserVmStatus got, UserVmStatus want, const char* what) {
    if (got == UserVmStatus::kNoMemory && want == UserVmStatus::kOk && dry_ == Dry::kNodes) return false;
    Expect(got, want, what);
    return got == UserVmStatus::kOk;
  }
  // Whether this step has no user page to give: a fault that needs one must fail, and change nothing.
  bool NoPages() const { return dry_ == Dry::kPages; }

  // An address around the window (some below lo and above hi, a few far outside).
  uint64_t Addr() {
    switch (src_.Pick(16)) {
      case 0: return src_.Pick(2) == 0 ? 0 : 0xffff800000001000;
      case 1: return model_.lo() + src_.Pick(model_.npages() * kPageSize);  // unaligned
      default: return model_.lo() - 4 * kPageSize + src_.Pick(model_.npages() + 8) * kPageSize;
    }
  }
  uint64_t Len() {
    switch (src_.Pick(8)) {
      case 0: return 0;
      case 1: return 1 + src_.Pick(3 * kPageSize);
      case 2: return ~uint64_t{0} - src_.Pick(kPageSize);
      default: return (1 + src_.Pick(src_.Pick(2) == 0 ? 4 : 48)) * kPageSize;
    }
  }
  Prot AnyProt() {
    static constexpr Prot kProts[] = {Prot::kRead, Prot::kWrite, Prot::kExec, Prot::kWrite | Prot::kExec};
    return kProts[src_.Pick(4)];
  }
  void Note(const char* op) { last_op_ = op; }

  void AddImage(uint64_t s, uint64_t size, Prot prot, VmaKind kind, const uint8_t* image, uint64_t image_size) {
    Expect(vm_.AddImage(VirtAddr(s), size, prot, kind, image, image_size), UserVmStatus::kOk, "add image");
    model_.Add(s, s + size, prot, kind, image_size != 0 ? image : nullptr, image_size);
  }

  void Mmap() {
    Note("mmap");
    const uint64_t hint = src_.Pick(3) == 0 ? 0 : Addr(), len = Len();
    const Prot prot = AnyProt();
    VirtAddr out;
    UserVmStatus got = vm_.Mmap(VirtAddr(hint), len, prot, &out);
    // The model's choice: the hint when its range is free, else the highest free run below the reservation.
    UserVmStatus want = UserVmStatus::kOk;
    uint64_t at = 0, bytes = (len + kPageSize - 1) / kPageSize * kPageSize;
    if (len == 0) {
      want = UserVmStatus::kZeroLength;
    } else if (len > UINT64_MAX - (kPageSize - 1)) {
      want = UserVmStatus::kOutOfRange;
    } else {
      const uint64_t h = hint / kPageSize * kPageSize;
      if (hint != 0 && h >= model_.lo() && bytes <= model_.hi() - model_.lo() && h <= model_.hi() - bytes &&
          model_.FreeRange(h, h + bytes)) {
        at = h;
      } else {
        want = UserVmStatus::kNoGap;
        const uint64_t ceiling = model_.stack_set_ ? model_.floor_ - guard_ : model_.hi();
        for (uint64_t a = ceiling; bytes <= a - model_.lo() && a - bytes >= model_.lo(); a -= kPageSize) {
          if (model_.FreeRange(a - bytes, a)) {
            at = a - bytes;
            want = UserVmStatus::kOk;
            break;
          }
        }
      }
    }
    if (!Happened(got, want, "mmap")) return;
    VM_MODEL_CHECK(out.value() == at, "mmap(0x%lx, 0x%lx) at 0x%lx, the model at 0x%lx", hint, len, out.value(), at);
    model_.Add(at, at + bytes, prot, VmaKind::kAnon, nullptr, 0);
  }

  void Munmap() {
    Note("munmap");
    const uint64_t va = Addr(), len = Len();
    uint64_t end = 0;
    const UserVmStatus want = model_.Range(va, len, &end);
    if (!Happened(vm_.Munmap(VirtAddr(va), len), want, "munmap")) return;
    model_.Remove(va, end);
    model_.Normalise();
  }

  void Mprotect() {
    Note("mprotect");
    const uint64_t va = Addr(), len = Len();
    const Prot prot = AnyProt();
    uint64_t end = 0;
    UserVmStatus want = model_.Range(va, len, &end);
    if (want == UserVmStatus::kOk) {
      for (uint64_t p = va; p < end; p += kPageSize) {
        if (!model_.At(p).in) want = UserVmStatus::kNoVma;
      }
    }
    if (!Happened(vm_.Mprotect(VirtAddr(va), len, prot), want, "mprotect")) return;
    // A VMA reaching past either end with another protection is cut there; Normalise merges what can be.
    const bool cut_start = model_.At(va).prot != prot, cut_end = model_.At(end - kPageSize).prot != prot;
    for (uint64_t p = va; p < end; p += kPageSize) {
      UserVmModel::PageState& page = model_.At(p);
      if (page.prot != prot) page.cow = page.resident && Has(prot, Prot::kWrite);  // written in place later
      page.prot = prot;
    }
    if (cut_start) model_.At(va).first = true;
    if (cut_end) model_.Cut(end);
    model_.Normalise();
  }

  void Brk() {
    Note("brk");
    const uint64_t target = src_.Pick(4) == 0 ? 0 : model_.heap_base_ - 2 * kPageSize + src_.Pick(40 * kPageSize);
    VirtAddr now;
    UserVmStatus got = vm_.Brk(VirtAddr(target), &now);
    UserVmStatus want = UserVmStatus::kOk;
    const uint64_t from = (model_.brk_ + kPageSize - 1) / kPageSize * kPageSize;
    const uint64_t to = (target + kPageSize - 1) / kPageSize * kPageSize;
    if (target != 0 && (target < model_.heap_base_ || to > model_.hi())) {
      want = UserVmStatus::kOutOfRange;
    } else if (target != 0 && to > from && !model_.FreeRange(from, to)) {
      want = UserVmStatus::kOverlap;
    }
    if (Happened(got, want, "brk") && target != 0) {
      if (to > from) model_.Add(from, to, Prot::kWrite, VmaKind::kHeap, nullptr, 0);
      if (to < from) model_.Remove(to, from);
      model_.Normalise();
      model_.brk_ = target;
    }
    VM_MODEL_CHECK(now.value() == model_.brk_, "brk says 0x%lx, the model 0x%lx", now.value(), model_.brk_);
  }

  // What a fault at va should do to the model; returns the status.
  FaultStatus ModelFault(uint64_t va, Access access, bool check_prot, UserVmModel::PageState** page) {
    if (va >= model_.hi()) return FaultStatus::kKernelAddress;
    if (va < model_.lo()) return FaultStatus::kNoVma;
    const uint64_t pva = va / kPageSize * kPageSize;
    UserVmModel::PageState* p = &model_.At(pva);
    if (!p->in) {
      if (!model_.Reserved(va)) return FaultStatus::kNoVma;
      uint64_t above = pva;
      while (above < model_.hi() && !model_.At(above).in) above += kPageSize;
      if (above >= model_.hi() || model_.At(above).kind != VmaKind::kStack) return FaultStatus::kNoVma;
      if (va < model_.floor_) return FaultStatus::kStackLimit;
      const UserVmModel::PageState& s = model_.At(above);
      if (check_prot && !Allowed(s.prot, access)) return FaultStatus::kProtection;
      if (NoPages()) return FaultStatus::kNoMemory;  // the growth is undone with the fault
      // The stack VMA grows down to the page.
      for (uint64_t g = pva; g < above; g += kPageSize) {
        model_.At(g) =
            UserVmModel::PageState{true, g == pva, false, s.prot, VmaKind::kStack, nullptr, 0, false, 0, false, 0};
      }
      model_.At(above).first = false;
      model_.Normalise();
    } else if (check_prot && !Allowed(p->prot, access)) {
      return FaultStatus::kProtection;
    }
    *page = p;
    // A write to a shared page mapped without write needs a copy.
    const bool copies = p->resident && access == Access::kWrite && !Has(p->mapped(), Prot::kWrite) &&
                        model_.frames().Shared(p->frame);
    if (p->resident && !copies) return FaultStatus::kResolved;
    return NoPages() ? FaultStatus::kNoMemory : FaultStatus::kResolved;
  }
  static bool Allowed(Prot prot, Access a) {
    return a == Access::kRead || (a == Access::kWrite && Has(prot, Prot::kWrite)) ||
           (a == Access::kExec && Has(prot, Prot::kExec));
  }
  // A page the model just saw faulted in: resident, its first word the image's (or zero). A fault's page is
  // checked byte by byte (the image's bytes, then zero); a Write's has been written already.
  enum class Verify : uint8_t { kBytes, kNo };
  void Faulted(uint64_t va, UserVmModel::PageState* p, Verify verify) {
    if (p->resident) return;
    uint8_t first[8] = {};
    for (uint64_t i = 0; i < 8 && i < p->image_bytes; ++i) first[i] = p->image[i];
    p->resident = true;
    p->frame = model_.frames().New();
    std::memcpy(&p->word, first, sizeof p->word);
    if (verify == Verify::kNo) return;
    VmMapping m;
    VM_MODEL_CHECK(space_.Query(VirtAddr(va), &m) == VmStatus::kOk, "faulted page 0x%lx is not mapped", va);
    const uint8_t* bytes = map_.Kaddr<uint8_t>(m.pa.AlignedDown(kPageSize));
    for (uint64_t i = 0; i < kPageSize; ++i) {
      const uint8_t want = i < p->image_bytes ? p->image[i] : 0;
      VM_MODEL_CHECK(bytes[i] == want, "faulted page 0x%lx byte %lu is 0x%x, the image says 0x%x", va, i, bytes[i],
                     want);
    }
  }

  void Fault() {
    Note("fault");
    const uint64_t va = Addr();
    const Access access = static_cast<Access>(src_.Pick(3));
    FaultResult got = vm_.Fault(VirtAddr(va), access);
    UserVmModel::PageState* p = nullptr;
    const FaultStatus want = ModelFault(va, access, true, &p);
    VM_MODEL_CHECK(got.status == want, "fault at 0x%lx (%u): %s, the model expects %s", va,
                   static_cast<unsigned>(access), Name(got.status), Name(want));
    if (want != FaultStatus::kResolved) return;
    Faulted(va / kPageSize * kPageSize, p, Verify::kBytes);
    if (access == Access::kWrite) model_.Written(*p);
  }

  void Write() {
    Note("write");
    const uint64_t va = Addr();
    const uint64_t len = 1 + src_.Pick(src_.Pick(4) == 0 ? 3 * kPageSize : 16);
    std::vector<uint8_t> bytes(len);
    for (auto& b : bytes) b = static_cast<uint8_t>(src_.Pick(256));
    UserVmStatus got = vm_.Write(VirtAddr(va), bytes.data(), len);
    // The model writes page by page, as far as the pages go.
    UserVmStatus want = UserVmStatus::kOk;
    if (len > UINT64_MAX - va) want = UserVmStatus::kOutOfRange;
    for (uint64_t done = 0; want == UserVmStatus::kOk && done < len;) {
      const uint64_t at = va + done, pva = at / kPageSize * kPageSize;
      UserVmModel::PageState* p = nullptr;
      FaultStatus f = ModelFault(at, Access::kWrite, false, &p);
      if (f == FaultStatus::kNoMemory) {
        want = UserVmStatus::kNoMemory;
        break;
      }
      if (f != FaultStatus::kResolved) {
        want = UserVmStatus::kNoVma;
        break;
      }
      Faulted(pva, p, Verify::kNo);
      if (!Has(p->mapped(), Prot::kWrite)) model_.Written(*p);  // a read-only VMA's sole page stays as it is
      const uint64_t n = Min(len - done, pva + kPageSize - at);
      for (uint64_t i = 0; i < n; ++i) {
        if (at + i - pva < 8) reinterpret_cast<uint8_t*>(&p->word)[at + i - pva] = bytes[done + i];
      }
      done += n;
    }
    Expect(got, want, "write");
  }

  Source& src_;
  AddressSpace& space_;
  HostUserPages& pages_;
  const DirectMap& map_;
  uint64_t guard_;
  UserVmFrames own_frames_;
  UserVmFrames& frames_;
  UserVmModel model_;
  VmaNodePool nodes_;
  UserVm vm_;
  uint8_t image_[8 * kPageSize];
  const char* last_op_ = "load";
  enum class Dry : uint8_t { kNo, kNodes, kPages } dry_ = Dry::kNo;
};

// One process of a fork tree: its space, made by the caller's factory and released when it goes.
struct UserVmSpace {
  virtual ~UserVmSpace() = default;
  virtual AddressSpace& space() = 0;
  virtual void AfterStep() {}
};
using UserVmSpaceFactory = std::function<std::unique_ptr<UserVmSpace>()>;

struct FakeSpace final : UserVmSpace {
  FakeArchAspace arch;
  AddressSpace as{"proc", AddressSpace::Kind::kUser, arch};
  AddressSpace& space() override { return as; }
  void AfterStep() override { arch.calls.clear(); }  // the fake's call log, which nothing here reads
};

// A tree grown from one loaded root: each round (up to `rounds`, while source.More()) a live process forks
// (up to kMaxLive alive), exits, or takes a step; the root may exit before its children. At the end the rest
// exit in random order and every page, the shared ones included, has gone back exactly once (each exit's
// check counts palloc's free pages against the frames still alive).
template <typename Source>
void RunForkTree(Source& src, const UserVmSpaceFactory& make, HostUserPages& pages, const DirectMap& map, uint64_t lo,
                 int rounds = 400) {
  constexpr size_t kMaxLive = 12;
  struct Proc {
    std::unique_ptr<UserVmSpace> space;
    std::unique_ptr<UserVmRun<Source>> run;
  };
  UserVmFrames frames(pages.palloc().FreeCount());
  // Runs stay allocated until the end: a child's VMAs take image bytes from the root's run.
  std::vector<Proc> all;
  std::vector<size_t> live;
  all.push_back(Proc{make(), nullptr});
  all[0].run = std::make_unique<UserVmRun<Source>>(src, all[0].space->space(), pages, map, lo, &frames);
  all[0].run->Load();
  live.push_back(0);
  auto exit = [&](size_t at) {
    Proc& p = all[live[at]];
    p.run->Finish();
    p.space.reset();
    live.erase(live.begin() + static_cast<long>(at));
  };
  for (int round = 0; round < rounds && src.More() && !live.empty(); ++round) {
    const size_t at = src.Pick(live.size());
    const size_t i = live[at];
    const uint64_t what = src.Pick(10);
    if (what == 0 && live.size() < kMaxLive) {
      Proc child{make(), nullptr};
      child.run = std::make_unique<UserVmRun<Source>>(*all[i].run, child.space->space());
      const bool forked = all[i].run->Fork(*child.run);
      all.push_back(std::move(child));
      live.push_back(all.size() - 1);
      if (!forked) exit(live.size() - 1);
    } else if (what == 1 && live.size() > 1) {
      exit(at);
    } else {
      all[i].run->Step();
      all[i].space->AfterStep();
    }
  }
  while (!live.empty()) exit(src.Pick(live.size()));
  VM_MODEL_CHECK(frames.refs.empty(), "%zu frames alive once every process exited", frames.refs.size());
  VM_MODEL_CHECK(pages.palloc().FreeCount() == frames.free_before, "palloc has %lu free pages at the end, %lu before",
                 pages.palloc().FreeCount(), frames.free_before);
}

}  // namespace kmem::testing
