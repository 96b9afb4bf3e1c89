// Virtual memory areas (Linux's vm_area_struct, 9front's segments, osv's memregions): the ranges of a
// process's address space with what they hold and how they may be accessed, kept sorted in an intrusive AVL
// tree so that a fault or a system call finds its area in O(log n). The tree has no heap of its own: its
// nodes come from a VmaNodeSource the caller passes (a KmemCache in the kernel, a pool on the host), and the
// tree only links them.
//
// Invariant: the areas are page-aligned, non-empty, sorted by start and do not overlap; every node's height
// is one more than its taller child's and its children's heights differ by at most one (Validate checks it).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/vm/aspace.h"

namespace kmem {

// What an area holds (kernel/proc reports it to user programs as kernel/abi/syscall.h's VmaKindId, the
// same order).
enum class VmaKind : uint8_t { kText, kData, kBss, kHeap, kStack, kAnon };
// "text", "data", "bss", "heap", "stack", "anon".
const char* Name(VmaKind kind);

struct Image;  // image.h

// One area: [start, end) with `prot`. An image-backed area (text, data) takes its first `image_size` bytes
// from `image`, kernel memory that outlives the space, and the rest of its pages are zero; an anonymous one
// (image == nullptr) is zero throughout. `resident` counts the pages mapped now. A text area whose pages are
// shared through the image cache (image.h) has `shared`, of which it is a user, and its first page is the
// image's page `shared_index`; nullptr: its pages are its own.
struct Vma {
  VirtAddr start;
  VirtAddr end;
  Prot prot;
  VmaKind kind;
  const uint8_t* image;
  uint64_t image_size;
  uint64_t resident;
  Image* shared;
  uint64_t shared_index;

  uint64_t size() const { return end - start; }
  bool Contains(VirtAddr va) const { return start <= va && va < end; }
};

// A tree node: the area and its links.
struct VmaNode {
  Vma vma;
  VmaNode* left;
  VmaNode* right;
  VmaNode* parent;
  int32_t height;  // of the subtree rooted here; a leaf is 1
};

// Storage for nodes: alloc returns sizeof(VmaNode) bytes aligned to 8, or nullptr when none is left; free
// takes back what alloc returned.
struct VmaNodeSource {
  void* (*alloc)(void* ctx) = nullptr;
  void (*free)(void* ctx, void* node) = nullptr;
  void* ctx = nullptr;
};

class VmaTree {
 public:
  // Links `node`, whose area must not overlap any in the tree (panics with both). O(log n).
  void Insert(VmaNode* node);
  // Unlinks `node`, which is in the tree. O(log n).
  void Remove(VmaNode* node);
  // The node whose area contains `va`, or nullptr. O(log n).
  VmaNode* Find(VirtAddr va) const;
  // The first node whose area ends above `va` (the one containing va, or the next above it), or nullptr.
  // O(log n).
  VmaNode* FirstEndingAbove(VirtAddr va) const;
  // The last node whose area starts below `va`, or nullptr. O(log n).
  VmaNode* LastStartingBelow(VirtAddr va) const;
  // In-order neighbours; nullptr past either end. O(log n) worst case, O(1) amortised over a walk.
  static VmaNode* Next(VmaNode* node);
  static VmaNode* Prev(VmaNode* node);
  VmaNode* First() const;

  uint64_t size() const { return size_; }
  bool empty() const { return root_ == nullptr; }
  // Checks the invariant above, the parent links and the count; panics with the node that breaks them.
  // O(n).
  void Validate() const;

 private:
  static int32_t Height(const VmaNode* n) { return n == nullptr ? 0 : n->height; }
  static void Update(VmaNode* n);
  // Puts `to` where `from` hangs (its parent's child link, or the root); `to` may be nullptr.
  void Replace(VmaNode* from, VmaNode* to);
  VmaNode* RotateLeft(VmaNode* x);
  VmaNode* RotateRight(VmaNode* x);
  // Restores the balance at `n`; returns the subtree's new root.
  VmaNode* Rebalance(VmaNode* n);
  // Rebalances from `n` up to the root.
  void Retrace(VmaNode* n);
  int32_t ValidateSubtree(const VmaNode* n, const VmaNode* parent, uint64_t* count) const;

  VmaNode* root_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace kmem
