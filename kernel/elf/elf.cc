#include "kernel/elf/elf.h"

#include <stdarg.h>

#include "kernel/abi/syscall.h"
#include "mm/base/format.h"
#include "mm/base/panic.h"

namespace kmem::elf {

static_assert(static_cast<uint64_t>(SegmentProt::kRead) == abi::kProtRead &&
                  static_cast<uint64_t>(SegmentProt::kWrite) == abi::kProtWrite &&
                  static_cast<uint64_t>(SegmentProt::kExec) == abi::kProtExec,
              "SegmentProt converts to the system calls' protection bits as it is");
// The headers are copied out of the file as they are: the file is little-endian (EI_DATA is checked), and so
// must be the machine that reads it, host or kernel.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Parse copies little-endian headers as they are");

namespace {

// e_ident's indices and the values a loadable file has there (gABI).
constexpr unsigned kEiClass = 4, kEiData = 5, kEiVersion = 6, kEiOsAbi = 7, kEiAbiVersion = 8;
constexpr uint8_t kMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfData2Lsb = 1;
constexpr uint32_t kEvCurrent = 1;
constexpr uint8_t kElfOsAbiSysv = 0;  // also ELFOSABI_NONE
constexpr uint16_t kEtExec = 2, kEtDyn = 3;
constexpr uint16_t kEmX86_64 = 62;

constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3;
constexpr uint32_t kPtGnuStack = 0x6474e551;
constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;

// Where the sentence for a refusal goes.
struct Why {
  char* buf;
  size_t cap;
};

ElfStatus Refuse(const Why& why, ElfStatus status, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
ElfStatus Refuse(const Why& why, ElfStatus status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  VFormatTo(why.buf, why.cap, fmt, ap);
  va_end(ap);
  return status;
}

// Whether [offset, offset + bytes) lies inside a file of `size` bytes, without wrapping.
bool InFile(uint64_t offset, uint64_t bytes, uint64_t size) { return offset <= size && bytes <= size - offset; }

ElfStatus CheckIdent(const uint8_t* id, const Why& why) {
  for (unsigned i = 0; i < sizeof kMagic; ++i) {
    if (id[i] != kMagic[i]) {
      return Refuse(why, ElfStatus::kBadMagic, "e_ident[0..3] is %02x %02x %02x %02x, not the ELF magic 7f 45 4c 46",
                    id[0], id[1], id[2], id[3]);
    }
  }
  if (id[kEiClass] != kElfClass64) {
    return Refuse(why, ElfStatus::kBadClass, "e_ident[EI_CLASS] is %u, not ELFCLASS64 (2)", id[kEiClass]);
  }
  if (id[kEiData] != kElfData2Lsb) {
    return Refuse(why, ElfStatus::kBadByteOrder, "e_ident[EI_DATA] is %u, not ELFDATA2LSB (1)", id[kEiData]);
  }
  if (id[kEiVersion] != kEvCurrent) {
    return Refuse(why, ElfStatus::kBadVersion, "e_ident[EI_VERSION] is %u, not EV_CURRENT (1)", id[kEiVersion]);
  }
  if (id[kEiOsAbi] != kElfOsAbiSysv) {
    return Refuse(why, ElfStatus::kBadOsAbi, "e_ident[EI_OSABI] is %u, not ELFOSABI_SYSV (0)", id[kEiOsAbi]);
  }
  if (id[kEiAbiVersion] != 0) {
    return Refuse(why, ElfStatus::kBadOsAbi, "e_ident[EI_ABIVERSION] is %u, not 0", id[kEiAbiVersion]);
  }
  return ElfStatus::kOk;
}

// The ELF header's fields, in file order, and the program header table's place in the file.
ElfStatus CheckHeader(const uint8_t* file, uint64_t size, Elf64Ehdr* h, const Why& why) {
  if (size < sizeof *h) {
    return Refuse(why, ElfStatus::kTruncated, "the file's 0x%lx bytes are fewer than the 0x%zx of the ELF header",
                  size, sizeof *h);
  }
  __builtin_memcpy(h, file, sizeof *h);
  if (const ElfStatus s = CheckIdent(h->e_ident, why); s != ElfStatus::kOk) return s;
  if (h->e_type == kEtDyn) {
    return Refuse(why, ElfStatus::kPositionIndependent,
                  "e_type is ET_DYN (3), a position-independent executable or shared object: only static ET_EXEC "
                  "programs are supported");
  }
  if (h->e_type != kEtExec) {
    return Refuse(why, ElfStatus::kNotExecutable, "e_type is %u, not ET_EXEC (2)", h->e_type);
  }
  if (h->e_machine != kEmX86_64) {
    return Refuse(why, ElfStatus::kBadMachine, "e_machine is %u, not EM_X86_64 (62)", h->e_machine);
  }
  if (h->e_version != kEvCurrent) {
    return Refuse(why, ElfStatus::kBadVersion, "e_version is %u, not EV_CURRENT (1)", h->e_version);
  }
  if (h->e_ehsize != sizeof(Elf64Ehdr)) {
    return Refuse(why, ElfStatus::kBadHeaderSize, "e_ehsize is %u, not %zu", h->e_ehsize, sizeof(Elf64Ehdr));
  }
  if (h->e_phentsize != sizeof(Elf64Phdr)) {
    return Refuse(why, ElfStatus::kBadPhentsize, "e_phentsize is %u, not %zu", h->e_phentsize, sizeof(Elf64Phdr));
  }
  if (h->e_phnum == 0 || h->e_phnum > kMaxProgramHeaders) {
    return Refuse(why, ElfStatus::kBadPhnum, "e_phnum is %u, not in [1, %u]", h->e_phnum, kMaxProgramHeaders);
  }
  if (!InFile(h->e_phoff, uint64_t{h->e_phnum} * sizeof(Elf64Phdr), size)) {
    return Refuse(why, ElfStatus::kPhdrsBeyondFile,
                  "e_phoff 0x%lx + e_phnum %u * 0x%zx bytes ends beyond the file's 0x%lx bytes", h->e_phoff,
                  h->e_phnum, sizeof(Elf64Phdr), size);
  }
  return ElfStatus::kOk;
}

SegmentProt ProtOf(uint32_t p_flags) {
  SegmentProt prot = SegmentProt::kNone;
  if (p_flags & kPfR) prot = prot | SegmentProt::kRead;
  if (p_flags & kPfW) prot = prot | SegmentProt::kWrite;
  if (p_flags & kPfX) prot = prot | SegmentProt::kExec;
  return prot;
}

// PT_LOAD header i on its own: sizes, alignment, its bytes in the file, its pages in the limits, W^X.
ElfStatus CheckLoad(unsigned i, const Elf64Phdr& p, uint64_t size, const Limits& limits, const Why& why,
                    Segment* seg) {
  if (p.p_filesz > p.p_memsz) {
    return Refuse(why, ElfStatus::kFileszAboveMemsz, "program header %u: p_filesz 0x%lx exceeds p_memsz 0x%lx", i,
                  p.p_filesz, p.p_memsz);
  }
  if (p.p_memsz == 0) {
    return Refuse(why, ElfStatus::kEmptySegment, "program header %u: a PT_LOAD with p_memsz 0", i);
  }
  if (!IsPowerOfTwo(p.p_align) || p.p_align < kPageSize) {
    return Refuse(why, ElfStatus::kBadAlign,
                  "program header %u: p_align 0x%lx is not a power of two of at least the page size 0x%lx", i,
                  p.p_align, kPageSize);
  }
  if ((p.p_vaddr - p.p_offset) % kPageSize != 0) {
    return Refuse(why, ElfStatus::kMisaligned,
                  "program header %u: p_vaddr 0x%lx and p_offset 0x%lx differ mod the page size 0x%lx", i, p.p_vaddr,
                  p.p_offset, kPageSize);
  }
  if (!InFile(p.p_offset, p.p_filesz, size)) {
    return Refuse(why, ElfStatus::kSegmentBeyondFile,
                  "program header %u: p_offset 0x%lx + p_filesz 0x%lx ends beyond the file's 0x%lx bytes", i,
                  p.p_offset, p.p_filesz, size);
  }
  uint64_t page_end;
  if (p.p_memsz > UINT64_MAX - p.p_vaddr || !AlignUp(p.p_vaddr + p.p_memsz, kPageSize, &page_end)) {
    return Refuse(why, ElfStatus::kOutsideLimits,
                  "program header %u: p_vaddr 0x%lx + p_memsz 0x%lx wraps past the top of the address space", i,
                  p.p_vaddr, p.p_memsz);
  }
  const uint64_t page_start = AlignDown(p.p_vaddr, kPageSize);
  if (page_start < limits.lowest || page_end > limits.highest) {
    return Refuse(why, ElfStatus::kOutsideLimits,
                  "program header %u: p_vaddr 0x%lx + p_memsz 0x%lx, pages [0x%lx, 0x%lx), lies outside the user "
                  "range [0x%lx, 0x%lx)",
                  i, p.p_vaddr, p.p_memsz, page_start, page_end, limits.lowest, limits.highest);
  }
  if ((p.p_flags & kPfW) && (p.p_flags & kPfX)) {
    return Refuse(why, ElfStatus::kWriteExec, "program header %u: p_flags 0x%x is both writable and executable", i,
                  p.p_flags);
  }
  *seg = Segment{p.p_vaddr, p.p_memsz, p.p_offset, p.p_filesz, ProtOf(p.p_flags)};
  return ElfStatus::kOk;
}

// Appends segment `seg` of program header i after the image's others: room for it, above the last one, and
// no page shared with it (the segments before are sorted and apart, so the last is the only one to check).
// `last` is the program header the image's last segment came from.
ElfStatus Append(unsigned i, const Segment& seg, unsigned last, const Why& why, Image* image) {
  if (image->segments == kMaxSegments) {
    return Refuse(why, ElfStatus::kTooManySegments, "program header %u: a PT_LOAD beyond the %u supported", i,
                  kMaxSegments);
  }
  if (image->segments > 0) {
    const Segment& prev = image->segment[image->segments - 1];
    if (seg.va < prev.va) {
      return Refuse(why, ElfStatus::kUnsorted,
                    "program header %u: p_vaddr 0x%lx is below 0x%lx of the PT_LOAD before it (program header %u)",
                    i, seg.va, prev.va, last);
    }
    if (PageStart(seg) < PageEnd(prev)) {
      return Refuse(why, ElfStatus::kOverlap,
                    "program header %u: pages [0x%lx, 0x%lx) overlap [0x%lx, 0x%lx) of program header %u", i,
                    PageStart(seg), PageEnd(seg), PageStart(prev), PageEnd(prev), last);
    }
  }
  image->segment[image->segments++] = seg;
  return ElfStatus::kOk;
}

ElfStatus CheckProgramHeaders(const uint8_t* file, uint64_t size, const Elf64Ehdr& h, const Limits& limits,
                              const Why& why, Image* image) {
  unsigned last = 0;
  for (unsigned i = 0; i < h.e_phnum; ++i) {
    Elf64Phdr p;
    __builtin_memcpy(&p, file + h.e_phoff + uint64_t{i} * sizeof p, sizeof p);
    if (p.p_type == kPtInterp || p.p_type == kPtDynamic) {
      return Refuse(why, ElfStatus::kDynamic, "program header %u: %s: dynamically linked programs are not supported",
                    i, p.p_type == kPtInterp ? "PT_INTERP" : "PT_DYNAMIC");
    }
    if (p.p_type == kPtGnuStack && (p.p_flags & kPfX)) {
      return Refuse(why, ElfStatus::kExecStack,
                    "program header %u: PT_GNU_STACK p_flags 0x%x asks for an executable stack", i, p.p_flags);
    }
    if (p.p_type != kPtLoad) continue;
    Segment seg;
    if (const ElfStatus s = CheckLoad(i, p, size, limits, why, &seg); s != ElfStatus::kOk) return s;
    if (const ElfStatus s = Append(i, seg, last, why, image); s != ElfStatus::kOk) return s;
    last = i;
  }
  if (image->segments == 0) {
    return Refuse(why, ElfStatus::kNoSegments, "no PT_LOAD among the %u program headers", h.e_phnum);
  }
  return ElfStatus::kOk;
}

bool InExecSegment(const Image& image, uint64_t va) {
  for (unsigned i = 0; i < image.segments; ++i) {
    const Segment& s = image.segment[i];
    if (Has(s.prot, SegmentProt::kExec) && va >= s.va && va - s.va < s.memsz) return true;
  }
  return false;
}

ElfStatus ParseInto(const uint8_t* file, uint64_t size, const Limits& limits, Image* image, const Why& why) {
  Elf64Ehdr h;
  if (const ElfStatus s = CheckHeader(file, size, &h, why); s != ElfStatus::kOk) return s;
  if (const ElfStatus s = CheckProgramHeaders(file, size, h, limits, why, image); s != ElfStatus::kOk) return s;
  if (!InExecSegment(*image, h.e_entry)) {
    return Refuse(why, ElfStatus::kBadEntry, "e_entry 0x%lx is not inside an executable segment", h.e_entry);
  }
  image->entry = h.e_entry;
  image->end = PageEnd(image->segment[image->segments - 1]);
  return ElfStatus::kOk;
}

}  // namespace

const char* ElfStatusName(ElfStatus status) {
  switch (status) {
    case ElfStatus::kOk: return "ok";
    case ElfStatus::kTruncated: return "truncated";
    case ElfStatus::kBadMagic: return "bad magic";
    case ElfStatus::kBadClass: return "not ELFCLASS64";
    case ElfStatus::kBadByteOrder: return "not little-endian";
    case ElfStatus::kBadVersion: return "bad version";
    case ElfStatus::kBadOsAbi: return "bad OS ABI";
    case ElfStatus::kPositionIndependent: return "position-independent";
    case ElfStatus::kNotExecutable: return "not an executable";
    case ElfStatus::kBadMachine: return "not x86_64";
    case ElfStatus::kBadHeaderSize: return "bad e_ehsize";
    case ElfStatus::kBadPhentsize: return "bad e_phentsize";
    case ElfStatus::kBadPhnum: return "bad e_phnum";
    case ElfStatus::kPhdrsBeyondFile: return "program headers beyond the file";
    case ElfStatus::kDynamic: return "dynamically linked";
    case ElfStatus::kExecStack: return "executable stack";
    case ElfStatus::kFileszAboveMemsz: return "p_filesz above p_memsz";
    case ElfStatus::kEmptySegment: return "empty segment";
    case ElfStatus::kBadAlign: return "bad p_align";
    case ElfStatus::kMisaligned: return "p_vaddr and p_offset misaligned";
    case ElfStatus::kSegmentBeyondFile: return "segment beyond the file";
    case ElfStatus::kOutsideLimits: return "segment outside the user range";
    case ElfStatus::kWriteExec: return "writable and executable segment";
    case ElfStatus::kUnsorted: return "segments unsorted";
    case ElfStatus::kOverlap: return "segments overlap";
    case ElfStatus::kTooManySegments: return "too many segments";
    case ElfStatus::kNoSegments: return "no segments";
    case ElfStatus::kBadEntry: return "entry outside the text";
  }
  return "unknown";
}

ElfStatus Parse(const uint8_t* file, uint64_t size, const Limits& limits, Image* out, char* why, size_t cap) {
  KASSERT(limits.lowest < limits.highest && IsAligned(limits.lowest, kPageSize) &&
              IsAligned(limits.highest, kPageSize),
          "elf limits [0x%lx, 0x%lx) are not an ordered page-aligned range", limits.lowest, limits.highest);
  *out = Image{};
  if (cap != 0) why[0] = '\0';
  const ElfStatus status = ParseInto(file, size, limits, out, Why{why, cap});
  if (status != ElfStatus::kOk) *out = Image{};
  return status;
}

}  // namespace kmem::elf
