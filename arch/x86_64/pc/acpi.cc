#include "arch/x86_64/pc/acpi.h"

#include "mm/base/format.h"

namespace kmem::x86 {

const char* AcpiStatusName(AcpiStatus s) {
  switch (s) {
    case AcpiStatus::kOk: return "ok";
    case AcpiStatus::kNoRsdp: return "no RSDP";
    case AcpiStatus::kBadRoot: return "bad root table";
    case AcpiStatus::kNoMadt: return "no MADT";
    case AcpiStatus::kBadMadt: return "bad MADT";
  }
  return "?";
}

// The interface first, for the SMP bring-up; the parser follows.
AcpiStatus AcpiFindCpus(AcpiMemory&, AcpiCpus* out) {
  *out = AcpiCpus{};
  Print("acpi: no RSDP (parser not yet written)\n");
  return AcpiStatus::kNoRsdp;
}

}  // namespace kmem::x86
