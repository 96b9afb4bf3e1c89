// ELF64 files for the host tests and the fuzzer of kernel/elf: a valid static x86_64 executable whose
// headers a test then edits into the defect it wants, written out as the bytes Parse reads.
#pragma once

#include <stdint.h>

#include <vector>

#include "kernel/elf/elf.h"

namespace kmem::testing {

// ELF's numbers the tests write (kernel/elf keeps its own, private).
inline constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtNote = 4, kPtPhdr = 6, kPtTls = 7;
inline constexpr uint32_t kPtGnuStack = 0x6474e551, kPtGnuRelro = 0x6474e552;
inline constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;

// A file as headers and a size: Build writes the ELF header at 0 and every one of `phdrs` at
// header.e_phoff (whatever header.e_phnum says), over `size` bytes of a fill pattern, cutting off what lies
// past `size`.
struct ElfFile {
  elf::Elf64Ehdr header;
  std::vector<elf::Elf64Phdr> phdrs;
  uint64_t size;

  // Appends a program header and counts it in e_phnum.
  void Add(const elf::Elf64Phdr& phdr);
  std::vector<uint8_t> Build() const;
};

// A PT_LOAD with p_align 0x1000 and p_paddr = p_vaddr.
elf::Elf64Phdr LoadPhdr(uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz, uint64_t memsz);

// The valid program the tests start from, as lld lays one out with page-aligned sections:
//   program header 0  PT_LOAD R+X  file [0x1000, 0x1100)  at 0x401000  memsz 0x100   (text; e_entry 0x401000)
//   program header 1  PT_LOAD R    file [0x2000, 0x2080)  at 0x402000  memsz 0x80    (read-only data)
//   program header 2  PT_LOAD R+W  file [0x3000, 0x3040)  at 0x403000  memsz 0x2000  (data and bss)
//   program header 3  PT_GNU_STACK R+W
// in a file of 0x3040 bytes; its pages end at 0x405000.
ElfFile ValidElf();

// The same program as lld packs it without page-aligned sections: each segment starts in a page of memory
// of its own but shares its first file page with the segment before, its offset congruent to its address.
//   program header 0  PT_LOAD R    file [0, 0x1e0)       at 0x400000  memsz 0x1e0   (the headers, rodata)
//   program header 1  PT_LOAD R+X  file [0x1e0, 0x215)   at 0x4011e0  memsz 0x35    (text; e_entry 0x4011e0)
//   program header 2  PT_LOAD R+W  file [0x218, 0x228)   at 0x402218  memsz 0x1010  (data and bss)
//   program header 3  PT_GNU_STACK R+W
// in a file of 0x228 bytes; its pages end at 0x404000.
ElfFile PackedElf();

// ValidElf with kMaxSegments PT_LOADs: five more read-only pages at 0x408000-0x40c000 (program headers 4-8),
// then a PT_NOTE (program header 9) that would be a valid ninth segment at 0x410000 if its type were PT_LOAD.
ElfFile MaxSegmentsElf();

// The user half the tests parse against: [0x1000, 0x800000000000).
inline constexpr elf::Limits kUserLimits{0x1000, uint64_t{1} << 47};

}  // namespace kmem::testing
