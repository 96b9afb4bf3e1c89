// The CPUs the firmware describes in ACPI: the RSDP, the root table (XSDT or RSDT) and the MADT, read
// defensively. Firmware tables are input like any other: every length, checksum and pointer is checked
// before it is used, and a table that lies is reported on the console and ignored, never followed.
//
// Freestanding like mm/ (no libc, no heap): the kernel reads physical memory through its own AcpiMemory
// (it maps what it is asked for), host tests and the fuzzer serve a byte image (testing/acpi_tables.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/base/addr.h"
#include "mm/base/percpu.h"

namespace kmem::x86 {

// Physical memory as the parser reads it: a copy of n bytes at pa, false when [pa, pa+n) is not readable
// (the kernel maps what it is asked for; the host serves a byte image). The parser never dereferences
// firmware addresses itself, so a table that points anywhere costs a refused read, not a fault.
class AcpiMemory {
 public:
  virtual bool Read(PhysAddr pa, void* out, size_t n) = 0;

 protected:
  ~AcpiMemory() = default;
};

// One usable processor: its local APIC id (the INIT-SIPI target; 8 bits from a type 0 entry, 32 from a
// type 9 x2APIC entry) and its ACPI processor UID.
struct AcpiCpu {
  uint32_t apic_id;
  uint32_t uid;
};

// What the MADT says of the machine's processors: enabled (or online-capable, a flag defined from MADT
// revision 5 on and ignored before it) processors only, each APIC id once, broadcast ids never.
struct AcpiCpus {
  PhysAddr lapic_base;      // the MADT's, or its 64-bit override (entry type 5)
  unsigned n = 0;           // cpu[0, n), in MADT order
  AcpiCpu cpu[kMaxCpus];    // kMaxCpus from mm/base/percpu.h
  unsigned beyond_max = 0;  // usable processors past kMaxCpus, left out (reported)
  unsigned disabled = 0;    // entries neither enabled nor online-capable
  bool has_8259 = false;    // MADT flag PCAT_COMPAT: the legacy PICs exist (the SMP code masks them)
};

enum class AcpiStatus : uint8_t {
  kOk,
  kNoRsdp,   // no RSDP with a valid signature and checksum in the EBDA or the BIOS area
  kBadRoot,  // neither the XSDT nor the RSDT is readable with a valid header and checksum
  kNoMadt,   // the root table lists no valid "APIC" table
  kBadMadt,  // the MADT lists no usable processor
};
const char* AcpiStatusName(AcpiStatus);

// Finds the RSDP (the EBDA's first KiB, from the segment at 0x40e, then 0xe0000-0xfffff on 16-byte
// boundaries), prefers the XSDT when the RSDP's revision >= 2 and its extended checksum holds, else the
// RSDT; finds the MADT ("APIC") and lists its processors (type 0 local APIC, type 9 x2APIC; type 5 override).
// Prints one "acpi: " line for what it used (RSDP address and revision, root table, MADT address, CPU count)
// and one line for each table or entry it ignored and why. A table that lies (bad checksum, a length
// shorter than its header or past a sane bound, entries running past the table, an entry length of 0 or
// shorter than its type needs, pointers that cannot be read) is reported and ignored, never followed.
// On any status but kOk, *out is left empty (n == 0): the caller runs on the boot CPU alone.
// O(BIOS area / 16 + root entries + MADT length) reads.
AcpiStatus AcpiFindCpus(AcpiMemory& mem, AcpiCpus* out);

}  // namespace kmem::x86
