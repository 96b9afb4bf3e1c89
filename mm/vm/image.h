// Shared text (9front's Image): the pages a program's text segment makes, kept in an ImageCache so that
// every process running the program maps the same pages instead of copies of its own. An Image is found by
// the bytes it is made of (ImageKey: a segment's bytes in the kernel's copy of the ELF, so one per program
// and segment); it counts its users (the text VMAs mapping from it: one a process running the program,
// more if one split its text) and holds one reference of its own to each page filled so far. The last
// user's Release gives every such page back and the Image's memory; the next process to run the program
// makes a new one. Freestanding: the Images' memory comes from a caller-supplied ImageSource.
//
// Invariant: a page entry, once filled, holds the image's bytes (the rest of the page zero), is never
// written (a process writing to text copies it first: UserVm's copy-on-write, the image's reference keeps
// it shared) and stays until the last user goes; `filled` counts the entries set.
//
// Locks (ARCHITECTURE.md's table), both leaves at LockLevel::kZone like the slab caches' locks:
// ImageCache::lock_ ("image cache") guards the list of images, their count and every image's users;
// Image::lock ("image") guards that image's page entries. Neither is held across any call that locks:
// a fault looks a page up or enters it under the image's lock alone and only after releasing it takes a
// reference, allocates or frees a page (palloc's zone locks), allocates the Image (a pool's lock) or maps
// (the address space's lock); the two are never held together. So a fault's order is the process's
// sleeping lock, then the image lock, released, then the address space's and zone locks.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/lock.h"
#include "mm/vm/user_pages.h"

namespace kmem {

// What an image is made of: `size` bytes at `bytes` (kernel memory that outlives every user and never
// changes), filling `pages` pages, zero past the bytes. Two keys are the same image when all three agree.
struct ImageKey {
  const uint8_t* bytes;
  uint64_t size;
  uint64_t pages;
};

// Memory for Images: alloc returns `bytes` bytes aligned to 8, or nullptr when none is left; free takes back
// what alloc returned.
struct ImageSource {
  void* (*alloc)(void* ctx, uint64_t bytes) = nullptr;
  void (*free)(void* ctx, void* mem) = nullptr;
  void* ctx = nullptr;
};

// One image in its cache. Its memory holds the page entries right after it.
struct Image {
  Image(const ImageKey& k, PhysAddr* entries);

  ImageKey key;
  uint64_t users;   // the cache's lock
  uint64_t most;    // the most users it had at once; the cache's lock
  uint64_t filled;  // entries set; written under `lock`, read atomically
  Image* next;      // the cache's list, under its lock
  SpinLock lock;
  PhysAddr* page;  // key.pages entries, kNoPage where not filled yet
};

// The cache's totals: images, their users, the pages they hold.
struct ImageStats {
  uint64_t images, users, pages;
};

class ImageCache {
 public:
  // An entry not filled: no page is at this (unaligned) address.
  static constexpr PhysAddr kNoPage = PhysAddr(~uint64_t{0});

  constexpr explicit ImageCache(ImageSource source) : source_(source) {}
  // Panics if an image is left: its users never released it, and its pages would leak.
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  // The image of `key` with one user more: the one in the cache, or a new one with no page filled
  // (key.pages != 0). nullptr when there is no memory for it. O(images).
  Image* Acquire(const ImageKey& key);
  // One user more of an image the caller is a user of (a fork's copy of the VMA, a split). O(1).
  void Retain(Image* image);
  // One user fewer; the last puts back the image's reference to each page it holds through `pages` and
  // frees the image. O(images), plus the image's pages for the last.
  void Release(Image* image, const UserPages& pages);

  // Page `index` of `image` (of which the caller is a user) into *pa with a reference for the caller, or
  // false when it is not filled yet. O(1).
  bool Lookup(Image* image, uint64_t index, const UserPages& pages, PhysAddr* pa);
  // Enters `fresh`, a page the caller filled from the image and holds the one reference of, as page
  // `index`, the image taking a reference of its own; unless another CPU entered one first: then `fresh`
  // goes back and the caller gets a reference to that one. Returns the page the caller now holds. O(1).
  PhysAddr Enter(Image* image, uint64_t index, PhysAddr fresh, const UserPages& pages);

  // How many of the pages [first, first + count) of `image` are filled. O(count).
  uint64_t Held(Image* image, uint64_t first, uint64_t count);
  // Its users now and the most it had at once. O(1).
  struct Users {
    uint64_t now, most;
  };
  Users UsersOf(Image* image);
  ImageStats Stats();

 private:
  // The image of `key` in the list, or nullptr; under lock_.
  Image* Find(const ImageKey& key) const;
  void Unlink(Image* image);
  // Under lock_.
  static void AddUser(Image* image);

  ImageSource source_;
  SpinLock lock_{"image cache", LockLevel::kZone};
  Image* images_ = nullptr;
  uint64_t count_ = 0;
};

}  // namespace kmem
