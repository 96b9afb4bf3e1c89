#include "mm/vm/vma.h"

#include "mm/base/panic.h"

namespace kmem {

const char* Name(VmaKind kind) {
  switch (kind) {
    case VmaKind::kText: return "text";
    case VmaKind::kData: return "data";
    case VmaKind::kBss: return "bss";
    case VmaKind::kHeap: return "heap";
    case VmaKind::kStack: return "stack";
    case VmaKind::kAnon: return "anon";
  }
  return "?";
}

void VmaTree::Update(VmaNode* n) { n->height = 1 + Max(Height(n->left), Height(n->right)); }

void VmaTree::Replace(VmaNode* from, VmaNode* to) {
  VmaNode* p = from->parent;
  if (p == nullptr) {
    root_ = to;
  } else if (p->left == from) {
    p->left = to;
  } else {
    p->right = to;
  }
  if (to != nullptr) to->parent = p;
}

VmaNode* VmaTree::RotateLeft(VmaNode* x) {
  VmaNode* y = x->right;
  x->right = y->left;
  if (y->left != nullptr) y->left->parent = x;
  Replace(x, y);
  y->left = x;
  x->parent = y;
  Update(x);
  Update(y);
  return y;
}

VmaNode* VmaTree::RotateRight(VmaNode* x) {
  VmaNode* y = x->left;
  x->left = y->right;
  if (y->right != nullptr) y->right->parent = x;
  Replace(x, y);
  y->right = x;
  x->parent = y;
  Update(x);
  Update(y);
  return y;
}

VmaNode* VmaTree::Rebalance(VmaNode* n) {
  Update(n);
  int32_t balance = Height(n->left) - Height(n->right);
  if (balance > 1) {
    if (Height(n->left->left) < Height(n->left->right)) RotateLeft(n->left);
    return RotateRight(n);
  }
  if (balance < -1) {
    if (Height(n->right->right) < Height(n->right->left)) RotateRight(n->right);
    return RotateLeft(n);
  }
  return n;
}

void VmaTree::Retrace(VmaNode* n) {
  while (n != nullptr) n = Rebalance(n)->parent;
}

void VmaTree::Insert(VmaNode* node) {
  const Vma& v = node->vma;
  VmaNode* parent = nullptr;
  VmaNode** link = &root_;
  while (*link != nullptr) {
    parent = *link;
    const Vma& o = parent->vma;
    KASSERT(v.end <= o.start || o.end <= v.start, "VMA 0x%lx-0x%lx overlaps VMA 0x%lx-0x%lx", v.start.value(),
            v.end.value(), o.start.value(), o.end.value());
    link = v.start < o.start ? &parent->left : &parent->right;
  }
  node->left = node->right = nullptr;
  node->parent = parent;
  node->height = 1;
  *link = node;
  ++size_;
  Retrace(parent);
}

void VmaTree::Remove(VmaNode* z) {
  VmaNode* start;  // the lowest node whose subtree changed
  if (z->left == nullptr || z->right == nullptr) {
    start = z->parent;
    Replace(z, z->left != nullptr ? z->left : z->right);
  } else {
    // z's successor y (no left child) takes z's place.
    VmaNode* y = z->right;
    while (y->left != nullptr) y = y->left;
    if (y->parent != z) {
      start = y->parent;
      Replace(y, y->right);
      y->right = z->right;
      y->right->parent = y;
    } else {
      start = y;
    }
    Replace(z, y);
    y->left = z->left;
    y->left->parent = y;
    y->height = z->height;
  }
  --size_;
  Retrace(start);
}

VmaNode* VmaTree::FirstEndingAbove(VirtAddr va) const {
  VmaNode* best = nullptr;
  for (VmaNode* n = root_; n != nullptr;) {
    if (n->vma.end > va) {
      best = n;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return best;
}

VmaNode* VmaTree::LastStartingBelow(VirtAddr va) const {
  VmaNode* best = nullptr;
  for (VmaNode* n = root_; n != nullptr;) {
    if (n->vma.start < va) {
      best = n;
      n = n->right;
    } else {
      n = n->left;
    }
  }
  return best;
}

VmaNode* VmaTree::Find(VirtAddr va) const {
  VmaNode* n = FirstEndingAbove(va);
  return n != nullptr && n->vma.start <= va ? n : nullptr;
}

VmaNode* VmaTree::Next(VmaNode* n) {
  if (n->right != nullptr) {
    n = n->right;
    while (n->left != nullptr) n = n->left;
    return n;
  }
  while (n->parent != nullptr && n->parent->right == n) n = n->parent;
  return n->parent;
}

VmaNode* VmaTree::Prev(VmaNode* n) {
  if (n->left != nullptr) {
    n = n->left;
    while (n->right != nullptr) n = n->right;
    return n;
  }
  while (n->parent != nullptr && n->parent->left == n) n = n->parent;
  return n->parent;
}

VmaNode* VmaTree::First() const {
  VmaNode* n = root_;
  while (n != nullptr && n->left != nullptr) n = n->left;
  return n;
}

int32_t VmaTree::ValidateSubtree(const VmaNode* n, const VmaNode* parent, uint64_t* count) const {
  if (n == nullptr) return 0;
  const Vma& v = n->vma;
  KASSERT(n->parent == parent, "VMA 0x%lx-0x%lx has a wrong parent link", v.start.value(), v.end.value());
  KASSERT(v.start < v.end && v.start.IsAlignedTo(kPageSize) && v.end.IsAlignedTo(kPageSize),
          "VMA 0x%lx-0x%lx is empty or not page-aligned", v.start.value(), v.end.value());
  KASSERT(n->left == nullptr || n->left->vma.end <= v.start, "VMA 0x%lx-0x%lx is not above its left subtree",
          v.start.value(), v.end.value());
  KASSERT(n->right == nullptr || v.end <= n->right->vma.start, "VMA 0x%lx-0x%lx is not below its right subtree",
          v.start.value(), v.end.value());
  int32_t l = ValidateSubtree(n->left, n, count), r = ValidateSubtree(n->right, n, count);
  KASSERT(n->height == 1 + Max(l, r) && l - r <= 1 && r - l <= 1,
          "VMA 0x%lx-0x%lx: height %d, children %d and %d: the tree is out of balance", v.start.value(),
          v.end.value(), n->height, l, r);
  // The ordering checks above see only the children; an in-order walk sees every neighbour.
  const VmaNode* next = Next(const_cast<VmaNode*>(n));
  KASSERT(next == nullptr || v.end <= next->vma.start, "VMA 0x%lx-0x%lx overlaps or precedes its successor",
          v.start.value(), v.end.value());
  ++*count;
  return n->height;
}

void VmaTree::Validate() const {
  uint64_t count = 0;
  ValidateSubtree(root_, nullptr, &count);
  KASSERT(count == size_, "the tree holds %lu VMAs but counts %lu", count, size_);
}

}  // namespace kmem
