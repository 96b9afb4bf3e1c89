// ACPI firmware tables for the host tests of arch/x86_64/pc:acpi: a sparse physical memory the parser reads
// through (AcpiImage: regions of bytes, every other address refused), builders that lay out the RSDP, the
// root tables and the MADT with correct checksums, and AcpiMachine, a whole PC's worth of them that a test
// then makes lie by editing bytes.
#pragma once

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "arch/x86_64/pc/acpi.h"

namespace kmem::testing {

using Bytes = std::vector<uint8_t>;

class AcpiImage final : public x86::AcpiMemory {
 public:
  // Adds [pa, pa + size) as zeros; regions must not overlap.
  void Map(uint64_t pa, uint64_t size);
  // Copies bytes to pa, inside one region.
  void Write(uint64_t pa, const Bytes& bytes);
  // Sets the byte at `at` so that [from, from + n) sums to 0 mod 256 (a table's checksum after an edit).
  void Resum(uint64_t at, uint64_t from, uint64_t n);

  // Succeeds only when [pa, pa + n) lies inside one region.
  bool Read(PhysAddr pa, void* out, size_t n) override;
  uint64_t bytes_read() const { return bytes_read_; }
  size_t largest_read() const { return largest_read_; }

  // A recording (testing/acpi/NAME/): every file 0xADDR.bin of dir becomes a region at physical ADDR.
  static AcpiImage Load(const std::string& dir);

 private:
  uint8_t* Find(uint64_t pa, uint64_t n);
  std::map<uint64_t, Bytes> regions_;  // by base address
  uint64_t bytes_read_ = 0;
  size_t largest_read_ = 0;
};

// An RSDP of `revision`: 20 bytes before revision 2, 36 from it on, every checksum right.
Bytes AcpiRsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt);
// A table: the 36-byte header (signature, length, revision, checksum) and `body`.
Bytes AcpiTable(const char* signature, uint8_t revision, const Bytes& body);
// An RSDT (4-byte pointers) or XSDT (8-byte pointers) listing `tables`.
Bytes AcpiRoot(const char* signature, const std::vector<uint64_t>& tables);
// A MADT with the local APIC address, the flags (bit 0 PCAT_COMPAT) and entries.
Bytes AcpiMadt(uint32_t lapic, uint32_t flags, const std::vector<Bytes>& entries, uint8_t revision = 3);

// MADT entries (ACPI 6.5 §5.2.12): processor flags bit 0 enabled, bit 1 online-capable.
inline constexpr uint32_t kCpuOn = 1, kCpuOnlineCapable = 2;
Bytes MadtLocalApic(uint8_t uid, uint8_t apic_id, uint32_t flags);
Bytes MadtX2Apic(uint32_t x2apic_id, uint32_t uid, uint32_t flags);
Bytes MadtLapicOverride(uint64_t base);
Bytes MadtIoApic(uint8_t id, uint32_t address);  // an entry the parser walks over

// Where AcpiMachine puts things: the RSDP in the BIOS area (or wherever a test says), the tables in an
// area of high RAM as SeaBIOS does, the EBDA at the segment the BIOS data area names.
struct AcpiLayout {
  uint64_t rsdp = 0xf5a00;
  uint16_t ebda_segment = 0x9fc0;
  uint64_t rsdt = 0x7fe0000;
  uint64_t xsdt = 0x7fe1000;
  uint64_t madt = 0x7fe2000;
  uint64_t other = 0x7fe3000;  // a table that is not the MADT, listed first
};
inline constexpr uint64_t kAcpiTablesArea = 0x7fe0000, kAcpiTablesAreaBytes = 0x20000;
// Low memory [0, 1 MiB) and the tables area as regions, the EBDA segment word at 0x40e, the RSDP of
// `rsdp_revision`, an RSDT and (from revision 2) an XSDT each listing an "HPET" table and `madt`.
AcpiImage AcpiMachine(const Bytes& madt, uint8_t rsdp_revision = 2, const AcpiLayout& layout = {});

}  // namespace kmem::testing
