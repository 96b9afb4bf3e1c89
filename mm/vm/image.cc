#include "mm/vm/image.h"

#include "mm/base/panic.h"
#include "mm/base/placement_new.h"

namespace kmem {
namespace {

bool SameKey(const ImageKey& a, const ImageKey& b) {
  return a.bytes == b.bytes && a.size == b.size && a.pages == b.pages;
}

}  // namespace

Image::Image(const ImageKey& k, PhysAddr* entries)
    : key(k), users(1), most(1), filled(0), next(nullptr), lock("image", LockLevel::kZone), page(entries) {
  for (uint64_t i = 0; i < key.pages; ++i) page[i] = ImageCache::kNoPage;
}

ImageCache::~ImageCache() {
  KASSERT(images_ == nullptr, "image cache destroyed with %lu images (the first of %lu bytes, %lu users)", count_,
          images_->key.size, images_->users);
}

Image* ImageCache::Find(const ImageKey& key) const {
  Image* i = images_;
  while (i != nullptr && !SameKey(i->key, key)) i = i->next;
  return i;
}

void ImageCache::AddUser(Image* image) {
  ++image->users;
  image->most = Max(image->most, image->users);
}

void ImageCache::Unlink(Image* image) {
  Image** link = &images_;
  while (*link != image) {
    KASSERT(*link != nullptr, "image of %lu bytes at %p released but not in its cache", image->key.size,
            static_cast<const void*>(image->key.bytes));
    link = &(*link)->next;
  }
  *link = image->next;
  --count_;
}

Image* ImageCache::Acquire(const ImageKey& key) {
  KASSERT(key.pages != 0 && key.size <= key.pages * kPageSize, "image of %lu bytes in %lu pages", key.size,
          key.pages);
  {
    LockGuard g(lock_);
    if (Image* found = Find(key)) {
      AddUser(found);
      return found;
    }
  }
  // Made with no lock held (the source may take a pool's); another CPU may have made it meanwhile.
  void* mem = source_.alloc(source_.ctx, sizeof(Image) + key.pages * sizeof(PhysAddr));
  if (mem == nullptr) return nullptr;
  Image* made = new (mem) Image(key, reinterpret_cast<PhysAddr*>(static_cast<Image*>(mem) + 1));
  Image* image;
  {
    LockGuard g(lock_);
    image = Find(key);
    if (image != nullptr) {
      AddUser(image);
    } else {
      made->next = images_;
      images_ = image = made;
      ++count_;
    }
  }
  if (image != made) {
    made->~Image();
    source_.free(source_.ctx, mem);
  }
  return image;
}

void ImageCache::Retain(Image* image) {
  LockGuard g(lock_);
  KASSERT(image->users != 0, "retain of image at %p, which has no user", static_cast<const void*>(image->key.bytes));
  AddUser(image);
}

void ImageCache::Release(Image* image, const UserPages& pages) {
  {
    LockGuard g(lock_);
    KASSERT(image->users != 0, "release of image at %p, which has no user",
            static_cast<const void*>(image->key.bytes));
    if (--image->users != 0) return;
    Unlink(image);
  }
  // Nobody can reach it now: no user maps from it and the cache no longer finds it.
  uint64_t put = 0;
  for (uint64_t i = 0; i < image->key.pages; ++i) {
    if (image->page[i] == kNoPage) continue;
    pages.put_page(pages.ctx, image->page[i]);
    ++put;
  }
  KASSERT(put == image->filled, "image at %p counts %lu pages but holds %lu",
          static_cast<const void*>(image->key.bytes), image->filled, put);
  image->~Image();
  source_.free(source_.ctx, image);
}

bool ImageCache::Lookup(Image* image, uint64_t index, const UserPages& pages, PhysAddr* pa) {
  KASSERT(index < image->key.pages, "page %lu of an image of %lu pages", index, image->key.pages);
  PhysAddr held;
  {
    LockGuard g(image->lock);
    held = image->page[index];
  }
  if (held == kNoPage) return false;
  // Outside the lock: the entry stays until the last user, and the caller is one.
  pages.ref(pages.ctx, held);
  *pa = held;
  return true;
}

PhysAddr ImageCache::Enter(Image* image, uint64_t index, PhysAddr fresh, const UserPages& pages) {
  KASSERT(index < image->key.pages, "page %lu of an image of %lu pages", index, image->key.pages);
  PhysAddr held;
  {
    LockGuard g(image->lock);
    held = image->page[index];
    if (held == kNoPage) {
      image->page[index] = fresh;
      __atomic_store_n(&image->filled, image->filled + 1, __ATOMIC_RELAXED);
    }
  }
  if (held == kNoPage) {
    pages.ref(pages.ctx, fresh);  // the image's own
    return fresh;
  }
  pages.ref(pages.ctx, held);
  pages.put_page(pages.ctx, fresh);
  return held;
}

uint64_t ImageCache::Held(Image* image, uint64_t first, uint64_t count) {
  KASSERT(first <= image->key.pages && count <= image->key.pages - first, "pages %lu+%lu of an image of %lu",
          first, count, image->key.pages);
  LockGuard g(image->lock);
  uint64_t n = 0;
  for (uint64_t i = first; i < first + count; ++i) n += image->page[i] != kNoPage;
  return n;
}

ImageCache::Users ImageCache::UsersOf(Image* image) {
  LockGuard g(lock_);
  return Users{image->users, image->most};
}

ImageStats ImageCache::Stats() {
  LockGuard g(lock_);
  ImageStats s{count_, 0, 0};
  for (const Image* i = images_; i != nullptr; i = i->next) {
    s.users += i->users;
    s.pages += __atomic_load_n(&i->filled, __ATOMIC_RELAXED);
  }
  return s;
}

}  // namespace kmem
