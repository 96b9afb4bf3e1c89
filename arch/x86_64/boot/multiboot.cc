#include "arch/x86_64/boot/multiboot.h"

namespace kmem::boot {

ParseResult ParseMultibootMmap(const uint8_t* bytes, size_t len, E820Map* out) {
  const size_t before = out->count;
  size_t number = 0;
  for (size_t off = 0; off < len;) {
    ++number;
    MultibootMmapEntry e;
    if (len - off < sizeof e) return ParseMalformed(number, "entry runs past the end of the map");
    __builtin_memcpy(&e, bytes + off, sizeof e);
    // The loader may append fields, never drop any.
    if (e.size < sizeof e - sizeof e.size) return ParseMalformed(number, "entry size below 20 bytes");
    if (e.size > len - off - sizeof e.size) return ParseMalformed(number, "entry runs past the end of the map");
    ParseResult r = ParseAppend(out, number, e.base, PhysEnd{e.base} + e.length, e.type);
    if (r.status != ParseStatus::kOk) return r;
    off += sizeof e.size + e.size;
  }
  return ParseRequireEntries(kParsed, *out, before, number);
}

}  // namespace kmem::boot
