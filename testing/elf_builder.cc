#include "testing/elf_builder.h"

#include <algorithm>
#include <cstring>

namespace kmem::testing {

void ElfFile::Add(const elf::Elf64Phdr& phdr) {
  phdrs.push_back(phdr);
  header.e_phnum = static_cast<uint16_t>(phdrs.size());
}

namespace {

// Copies n bytes of `from` to file offset `at`, as much of them as lies inside the file.
void Put(std::vector<uint8_t>& bytes, uint64_t at, const void* from, uint64_t n) {
  if (at >= bytes.size()) return;
  std::memcpy(bytes.data() + at, from, std::min<uint64_t>(n, bytes.size() - at));
}

}  // namespace

std::vector<uint8_t> ElfFile::Build() const {
  std::vector<uint8_t> bytes(size);
  for (uint64_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  Put(bytes, 0, &header, sizeof header);
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const uint64_t at = header.e_phoff + i * sizeof(elf::Elf64Phdr);
    if (at < header.e_phoff) break;  // an e_phoff near 2^64 wraps: nothing of the table lies in the file
    Put(bytes, at, &phdrs[i], sizeof phdrs[i]);
  }
  return bytes;
}

elf::Elf64Phdr LoadPhdr(uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz, uint64_t memsz) {
  return elf::Elf64Phdr{kPtLoad, flags, offset, vaddr, vaddr, filesz, memsz, 0x1000};
}

ElfFile ValidElf() {
  ElfFile f{};
  const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2 /* ELFCLASS64 */, 1 /* ELFDATA2LSB */, 1 /* EV_CURRENT */};
  std::memcpy(f.header.e_ident, ident, sizeof ident);
  f.header.e_type = 2;      // ET_EXEC
  f.header.e_machine = 62;  // EM_X86_64
  f.header.e_version = 1;
  f.header.e_entry = 0x401000;
  f.header.e_phoff = sizeof(elf::Elf64Ehdr);
  f.header.e_ehsize = sizeof(elf::Elf64Ehdr);
  f.header.e_phentsize = sizeof(elf::Elf64Phdr);
  f.Add(LoadPhdr(kPfR | kPfX, 0x1000, 0x401000, 0x100, 0x100));
  f.Add(LoadPhdr(kPfR, 0x2000, 0x402000, 0x80, 0x80));
  f.Add(LoadPhdr(kPfR | kPfW, 0x3000, 0x403000, 0x40, 0x2000));
  f.Add(elf::Elf64Phdr{kPtGnuStack, kPfR | kPfW, 0, 0, 0, 0, 0, 16});
  f.size = 0x3040;
  return f;
}

ElfFile PackedElf() {
  ElfFile f = ValidElf();
  f.phdrs[0] = LoadPhdr(kPfR, 0, 0x400000, 0x1e0, 0x1e0);
  f.phdrs[1] = LoadPhdr(kPfR | kPfX, 0x1e0, 0x4011e0, 0x35, 0x35);
  f.phdrs[2] = LoadPhdr(kPfR | kPfW, 0x218, 0x402218, 0x10, 0x1010);
  f.header.e_entry = 0x4011e0;
  f.size = 0x228;
  return f;
}

ElfFile MaxSegmentsElf() {
  ElfFile f = ValidElf();
  for (uint64_t va = 0x408000; va <= 0x40c000; va += 0x1000) f.Add(LoadPhdr(kPfR, 0x3000, va, 0x40, 0x40));
  elf::Elf64Phdr ninth = LoadPhdr(kPfR, 0x3000, 0x410000, 0x40, 0x40);
  ninth.p_type = kPtNote;
  f.Add(ninth);
  return f;
}

}  // namespace kmem::testing
