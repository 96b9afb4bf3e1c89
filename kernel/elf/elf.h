// The ELF loader's parser: a user program's bytes (a static x86_64 ELF64 executable, in kernel memory) in,
// the segments its address space needs out, or a status and one sentence naming the field that is wrong.
// A program file is input like any other: every field the loader relies on is checked, with overflow-safe
// arithmetic, before any of it is believed; nothing outside [file, file + size) is ever read.
//
// Freestanding like mm/ (no libc, no heap, no exceptions): linked into the kernel (kernel/proc turns an
// Image into VMAs) and into the host tests and fuzzer.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"

namespace kmem::elf {

// The on-file structures (System V gABI, "ELF-64 Object File Format" 1.5), little-endian; the parser copies
// them out of the file (which need not be aligned) and reads only these two.
struct Elf64Ehdr {
  uint8_t e_ident[16];
  uint16_t e_type;
  uint16_t e_machine;
  uint32_t e_version;
  uint64_t e_entry;
  uint64_t e_phoff;
  uint64_t e_shoff;
  uint32_t e_flags;
  uint16_t e_ehsize;
  uint16_t e_phentsize;
  uint16_t e_phnum;
  uint16_t e_shentsize;
  uint16_t e_shnum;
  uint16_t e_shstrndx;
};
static_assert(sizeof(Elf64Ehdr) == 64, "the ELF64 file header is 64 bytes (gABI)");

struct Elf64Phdr {
  uint32_t p_type;
  uint32_t p_flags;
  uint64_t p_offset;
  uint64_t p_vaddr;
  uint64_t p_paddr;
  uint64_t p_filesz;
  uint64_t p_memsz;
  uint64_t p_align;
};
static_assert(sizeof(Elf64Phdr) == 56, "an ELF64 program header is 56 bytes (gABI)");

// A segment's protection: a set of these bits, with the values of kernel/abi's kProt* (not ELF's PF_*,
// which order them the other way), so a Segment's prot converts to a VMA's as it is.
enum class SegmentProt : uint8_t {
  kNone = 0,
  kRead = 1,
  kWrite = 2,
  kExec = 4,
};
constexpr SegmentProt operator|(SegmentProt a, SegmentProt b) {
  return static_cast<SegmentProt>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}
constexpr bool Has(SegmentProt set, SegmentProt bit) {
  return (static_cast<uint8_t>(set) & static_cast<uint8_t>(bit)) != 0;
}

// One PT_LOAD segment as the file gives it (not page-rounded): [va, va + memsz) holds the file's bytes
// [offset, offset + filesz) at va and zeros after them. Parse guarantees filesz <= memsz, memsz > 0,
// va ≡ offset (mod kPageSize), the file range inside the file, and the segment's pages (PageStart, PageEnd)
// inside the Limits without wrapping.
struct Segment {
  uint64_t va;
  uint64_t memsz;
  uint64_t offset;
  uint64_t filesz;
  SegmentProt prot;  // p_flags' PF_R, PF_W, PF_X, any set (none included) but kWrite with kExec
};

// The page-rounded span a segment's VMA covers, [PageStart, PageEnd). For a Segment from Parse these never
// overflow; the pages of two segments of one Image never overlap.
constexpr uint64_t PageStart(const Segment& s) { return AlignDown(s.va, kPageSize); }
constexpr uint64_t PageEnd(const Segment& s) { return AlignDown(s.va + s.memsz + (kPageSize - 1), kPageSize); }

// More PT_LOAD segments than a program of ours has (text, read-only data, data and bss, with room to spare);
// a file with more is refused.
inline constexpr unsigned kMaxSegments = 8;
// More program headers than any linker writes for a static program (lld: about ten); bounds the work.
inline constexpr unsigned kMaxProgramHeaders = 64;

// What the process's address space is made of: the entry point, the segments sorted by va with no page
// shared between two of them, and `end`, the page-rounded end of the highest segment, where the heap (brk)
// begins. The entry point lies inside an executable segment.
struct Image {
  uint64_t entry;
  unsigned segments;  // in [1, kMaxSegments]
  Segment segment[kMaxSegments];
  uint64_t end;
};

// The user half the segments must lie in: every segment's pages inside [lowest, highest). Both page-aligned,
// lowest < highest (Parse asserts it: the caller's constants, not the file's).
struct Limits {
  uint64_t lowest;
  uint64_t highest;
};

// One status per kind of defect; `why` names the field and its values.
enum class ElfStatus : uint8_t {
  kOk,
  kTruncated,          // the file is shorter than the ELF header
  kBadMagic,           // e_ident does not start with 0x7f 'E' 'L' 'F'
  kBadClass,           // not ELFCLASS64
  kBadByteOrder,       // not ELFDATA2LSB
  kBadVersion,         // e_ident[EI_VERSION] or e_version is not EV_CURRENT
  kBadOsAbi,           // e_ident[EI_OSABI] is not ELFOSABI_SYSV (ELFOSABI_NONE), or EI_ABIVERSION is not 0
  kPositionIndependent,  // ET_DYN: a PIE or shared object; only static ET_EXEC programs are loaded
  kNotExecutable,      // e_type is neither ET_EXEC nor ET_DYN (a relocatable object, a core file...)
  kBadMachine,         // not EM_X86_64
  kBadHeaderSize,      // e_ehsize is not sizeof(Elf64Ehdr)
  kBadPhentsize,       // e_phentsize is not sizeof(Elf64Phdr)
  kBadPhnum,           // e_phnum is 0 or above kMaxProgramHeaders
  kPhdrsBeyondFile,    // the program header table runs past the end of the file
  kDynamic,            // a PT_INTERP or PT_DYNAMIC header: dynamically linked programs are not supported
  kExecStack,          // PT_GNU_STACK asks for an executable stack
  kFileszAboveMemsz,   // a PT_LOAD's p_filesz exceeds its p_memsz
  kEmptySegment,       // a PT_LOAD's p_memsz is 0
  kBadAlign,           // a PT_LOAD's p_align is not a power of two of at least kPageSize
  kMisaligned,         // a PT_LOAD's p_vaddr and p_offset differ mod kPageSize
  kSegmentBeyondFile,  // a PT_LOAD's [p_offset, p_offset + p_filesz) runs past the end of the file
  kOutsideLimits,      // a PT_LOAD's pages are not inside the Limits (or its end wraps)
  kWriteExec,          // a PT_LOAD is both writable and executable
  kUnsorted,           // a PT_LOAD's p_vaddr is below the previous one's
  kOverlap,            // two PT_LOADs overlap or share a page
  kTooManySegments,    // more than kMaxSegments PT_LOADs
  kNoSegments,         // no PT_LOAD at all
  kBadEntry,           // e_entry is not inside an executable segment
};
const char* ElfStatusName(ElfStatus);

// Reads the static ELF64 x86_64 executable file[0, size) into *out. Checks, in this order, stopping at the
// first defect: the ELF header (size, magic, class, byte order, EI_VERSION, OS ABI, type, machine,
// e_version, e_ehsize, e_phentsize, e_phnum, the program header table inside the file), then each program
// header in table order, then the entry point. On any status but kOk, *out is all zeros and why[0, cap) holds one
// sentence (NUL-terminated, truncated to fit) naming the field and its values; on kOk why is "".
// `why` may be null when cap is 0.
//
// Program headers: PT_LOAD become segments; PT_INTERP and PT_DYNAMIC are refused (no dynamic linking);
// PT_GNU_STACK is refused when it has PF_X (the kernel never makes a stack executable) and otherwise
// ignored, as is its absence; every other type (PT_NOTE, PT_PHDR, PT_TLS, PT_GNU_RELRO, PT_GNU_PROPERTY,
// processor- and OS-specific ones...) is ignored: it describes bytes inside a PT_LOAD or nothing the loader
// provides (a program that uses TLS faults on its first %fs access and is killed like any other). Section
// headers (e_shoff, e_shnum...) and e_flags (x86_64 defines none) are not read: a loader needs segments only.
// The stricter-than-ELF rule: two PT_LOADs may not share a page even with the same protection, so every
// segment becomes VMAs of its own and no page is loaded from two places.
// O(e_phnum); reads at most sizeof(Elf64Ehdr) + kMaxProgramHeaders * sizeof(Elf64Phdr) bytes.
ElfStatus Parse(const uint8_t* file, uint64_t size, const Limits& limits, Image* out, char* why, size_t cap);

}  // namespace kmem::elf
