#include "arch/x86_64/pc/acpi.h"

#include <stdarg.h>

#include "mm/base/format.h"

namespace kmem::x86 {
namespace {

// Where the PC keeps the RSDP (ACPI 6.5 §5.2.5.1): the first KiB of the EBDA, whose real-mode segment the
// BIOS data area holds at 0x40e, and the BIOS area below 1 MiB, on 16-byte boundaries.
constexpr PhysAddr kEbdaSegmentAt{0x40e};
constexpr uint64_t kEbdaScanBytes = 1024;
// An EBDA outside conventional memory is a bad segment word, not an EBDA (Linux's bound).
constexpr uint64_t kEbdaLow = 0x400, kEbdaHigh = 0xa0000;
constexpr PhysAddr kBiosArea{0xe0000};
constexpr uint64_t kBiosAreaBytes = 0x20000;
constexpr uint64_t kRsdpAlign = 16;

constexpr char kRsdpSignature[] = "RSD PTR ";
constexpr uint32_t kRsdpV1Bytes = 20;  // what the revision 0 checksum covers
constexpr uint32_t kRsdpV2Bytes = 36;
// The revision 2 RSDP's length is 36 today; a later revision may grow it, a gigabyte is a lie.
constexpr uint32_t kMaxRsdpBytes = 4096;

constexpr uint32_t kSdtHeaderBytes = 36;
constexpr uint32_t kMadtHeaderBytes = 44;  // the SDT header, the local APIC address and the flags
// Bounds on what a table may claim, so that a lie cannot make the parser read gigabytes: 64 KiB is 8K
// XSDT entries, 1 MiB is 100K processors' MADT entries.
constexpr uint32_t kMaxRootBytes = 64 << 10;
constexpr uint32_t kMaxMadtBytes = 1 << 20;

// MADT entry types and the bytes each needs (ACPI 6.5 §5.2.12).
constexpr uint8_t kMadtLocalApic = 0;          // 8 bytes: uid, APIC id, flags
constexpr uint8_t kMadtLapicOverride = 5;      // 12 bytes: reserved, 64-bit base
constexpr uint8_t kMadtLocalX2Apic = 9;        // 16 bytes: reserved, x2APIC id, flags, uid
constexpr uint32_t kMadtPcatCompat = 1u << 0;  // MADT flags: dual 8259s present
constexpr uint32_t kCpuEnabled = 1u << 0;      // processor entry flags
constexpr uint32_t kCpuOnlineCapable = 1u << 1;  // meaningful from MADT revision 5 (ACPI 6.3) on
constexpr uint8_t kOnlineCapableRevision = 5;
// The ids that address every CPU, never one: xAPIC and x2APIC broadcast.
constexpr uint32_t kApicBroadcast = 0xff, kX2ApicBroadcast = 0xffffffff;

// Lines past this many "ignored" reports are counted, not printed: a hostile table must not flood the
// serial console with thousands of them.
constexpr unsigned kMaxReports = 16;

uint64_t Le(const uint8_t* p, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = bytes; i-- > 0;) v = v << 8 | p[i];
  return v;
}

bool SameBytes(const uint8_t* p, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != static_cast<uint8_t>(s[i])) return false;
  }
  return true;
}

// The console's one line for everything the parser refused, capped at kMaxReports lines.
class Log {
 public:
  void Ignored(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (++count_ > kMaxReports) return;
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    VFormatTo(line, sizeof line, fmt, ap);
    va_end(ap);
    Print("acpi: %s\n", line);
  }
  // The count of the lines the cap held back, if any.
  void Flush() const {
    if (count_ > kMaxReports) Print("acpi: %u more ignored tables or entries not shown\n", count_ - kMaxReports);
  }

 private:
  unsigned count_ = 0;
};

enum class Sum : uint8_t { kZero, kNonZero, kUnreadable };

// The byte sum of [pa, pa+len) mod 256, through 64-byte reads. O(len).
Sum Checksum(AcpiMemory& mem, PhysAddr pa, uint64_t len) {
  if (pa.value() > UINT64_MAX - len) return Sum::kUnreadable;
  uint8_t sum = 0;
  uint8_t chunk[64];
  for (uint64_t done = 0; done < len;) {
    const size_t n = static_cast<size_t>(Min<uint64_t>(sizeof chunk, len - done));
    if (!mem.Read(pa + done, chunk, n)) return Sum::kUnreadable;
    for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + chunk[i]);
    done += n;
  }
  return sum == 0 ? Sum::kZero : Sum::kNonZero;
}

struct Rsdp {
  PhysAddr at;
  uint8_t revision = 0;
  uint32_t rsdt = 0;
  uint64_t xsdt = 0;  // 0 unless the revision is >= 2 and the extended checksum holds
};

// Whether a valid RSDP sits at `at`: the signature, the revision 0 checksum and, from revision 2 on, the
// extended checksum over its length (without it, only the RSDT is trusted).
bool RsdpAt(AcpiMemory& mem, PhysAddr at, Log& log, Rsdp* rsdp) {
  uint8_t b[kRsdpV2Bytes];
  if (!mem.Read(at, b, kRsdpV1Bytes) || !SameBytes(b, kRsdpSignature, 8)) return false;
  if (Checksum(mem, at, kRsdpV1Bytes) != Sum::kZero) {
    log.Ignored("RSDP at 0x%lx: checksum fails, ignored", at.value());
    return false;
  }
  *rsdp = Rsdp{at, b[15], static_cast<uint32_t>(Le(b + 16, 4)), 0};
  if (rsdp->revision < 2) return true;
  if (!mem.Read(at, b, kRsdpV2Bytes)) {
    log.Ignored("RSDP at 0x%lx: revision %u but its extended part is unreadable, using the RSDT", at.value(),
                rsdp->revision);
    return true;
  }
  const uint32_t length = static_cast<uint32_t>(Le(b + 20, 4));
  if (length < kRsdpV2Bytes || length > kMaxRsdpBytes || Checksum(mem, at, length) != Sum::kZero) {
    log.Ignored("RSDP at 0x%lx: revision %u but its extended checksum over %u bytes fails, using the RSDT",
                at.value(), rsdp->revision, length);
    return true;
  }
  rsdp->xsdt = Le(b + 24, 8);
  return true;
}

// The first valid RSDP in [base, base+len) on 16-byte boundaries. O(len / 16) reads.
bool ScanRsdp(AcpiMemory& mem, PhysAddr base, uint64_t len, Log& log, Rsdp* rsdp) {
  for (uint64_t off = 0; off < len; off += kRsdpAlign) {
    if (RsdpAt(mem, base + off, log, rsdp)) return true;
  }
  return false;
}

bool FindRsdp(AcpiMemory& mem, Log& log, Rsdp* rsdp) {
  uint8_t seg[2];
  if (mem.Read(kEbdaSegmentAt, seg, sizeof seg)) {
    const uint64_t ebda = Le(seg, 2) << 4;
    if (ebda >= kEbdaLow && ebda < kEbdaHigh) {
      if (ScanRsdp(mem, PhysAddr(ebda), kEbdaScanBytes, log, rsdp)) return true;
    } else if (ebda != 0) {
      log.Ignored("EBDA segment word 0x%lx points outside conventional memory, ignored", ebda >> 4);
    }
  }
  return ScanRsdp(mem, kBiosArea, kBiosAreaBytes, log, rsdp);
}

struct Sdt {
  PhysAddr at;
  uint32_t length = 0;
  uint8_t revision = 0;
};

// Whether a table with signature `sig` (the console calls it `name`) sits at `at` with a length in
// [min, max] and a checksum that holds; reports why not.
bool SdtAt(AcpiMemory& mem, PhysAddr at, const char* sig, const char* name, uint32_t min, uint32_t max, Log& log,
           Sdt* sdt) {
  uint8_t h[kSdtHeaderBytes];
  if (!mem.Read(at, h, sizeof h)) {
    log.Ignored("%s at 0x%lx: unreadable, ignored", name, at.value());
    return false;
  }
  if (!SameBytes(h, sig, 4)) {
    log.Ignored("%s at 0x%lx: signature 0x%08lx is not '%s', ignored", name, at.value(), Le(h, 4), sig);
    return false;
  }
  const uint32_t length = static_cast<uint32_t>(Le(h + 4, 4));
  if (length < min || length > max) {
    log.Ignored("%s at 0x%lx: length %u outside [%u, %u], ignored", name, at.value(), length, min, max);
    return false;
  }
  const Sum sum = Checksum(mem, at, length);
  if (sum != Sum::kZero) {
    log.Ignored("%s at 0x%lx: %s, ignored", name, at.value(),
                sum == Sum::kUnreadable ? "its body is unreadable" : "checksum fails");
    return false;
  }
  *sdt = Sdt{at, length, h[8]};
  return true;
}

// Lists a processor entry's CPU unless it is unusable, a broadcast id or a repeated id.
void AddCpu(const Sdt& madt, uint32_t offset, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic,
            Log& log, AcpiCpus* out) {
  const bool online_capable = madt.revision >= kOnlineCapableRevision && (flags & kCpuOnlineCapable) != 0;
  if ((flags & kCpuEnabled) == 0 && !online_capable) {
    ++out->disabled;
    return;
  }
  if (apic_id == (x2apic ? kX2ApicBroadcast : kApicBroadcast)) {
    log.Ignored("MADT entry at +%u: APIC id 0x%x is the broadcast id, ignored", offset, apic_id);
    return;
  }
  for (unsigned i = 0; i < out->n; ++i) {
    if (out->cpu[i].apic_id == apic_id) {
      log.Ignored("MADT entry at +%u: APIC id %u repeated (uid %u), ignored", offset, apic_id, uid);
      return;
    }
  }
  if (out->n == kMaxCpus) {
    ++out->beyond_max;
    return;
  }
  out->cpu[out->n++] = AcpiCpu{apic_id, uid};
}

// The bytes a MADT entry type must have for the fields the parser reads; 2 (the entry header) for types it
// skips.
uint32_t MadtEntryNeeds(uint8_t type) {
  switch (type) {
    case kMadtLocalApic: return 8;
    case kMadtLapicOverride: return 12;
    case kMadtLocalX2Apic: return 16;
    default: return 2;
  }
}

// Reads the MADT entry at +off into b (the bytes its type needs) and its length into *length; reports why
// not. An entry that runs past the table or is shorter than its type needs makes the walk's position, and
// so the whole table, untrustworthy.
bool MadtEntryAt(AcpiMemory& mem, const Sdt& madt, uint32_t off, Log& log, uint8_t* b, uint32_t* length) {
  const uint32_t room = madt.length - off;
  if (room < 2) {
    log.Ignored("MADT at 0x%lx: entry at +%u runs past the table's %u bytes, MADT ignored", madt.at.value(), off,
                madt.length);
    return false;
  }
  if (!mem.Read(madt.at + off, b, 2)) {
    log.Ignored("MADT at 0x%lx: entry at +%u unreadable, MADT ignored", madt.at.value(), off);
    return false;
  }
  const uint8_t type = b[0];
  *length = b[1];
  const uint32_t needs = MadtEntryNeeds(type);
  if (*length < needs) {
    log.Ignored("MADT at 0x%lx: entry at +%u of type %u has length %u, needs %u, MADT ignored", madt.at.value(),
                off, type, *length, needs);
    return false;
  }
  if (*length > room) {
    log.Ignored("MADT at 0x%lx: entry at +%u of length %u runs past the table's %u bytes, MADT ignored",
                madt.at.value(), off, *length, madt.length);
    return false;
  }
  if (!mem.Read(madt.at + off, b, needs)) {
    log.Ignored("MADT at 0x%lx: entry at +%u unreadable, MADT ignored", madt.at.value(), off);
    return false;
  }
  return true;
}

// Walks a checked MADT's entries into *out. O(length) reads.
AcpiStatus WalkMadt(AcpiMemory& mem, const Sdt& madt, Log& log, AcpiCpus* out) {
  uint8_t b[16];
  if (!mem.Read(madt.at + kSdtHeaderBytes, b, 8)) return AcpiStatus::kBadMadt;  // checksummed just now
  out->lapic_base = PhysAddr(Le(b, 4));
  out->has_8259 = (Le(b + 4, 4) & kMadtPcatCompat) != 0;
  bool overridden = false;
  for (uint32_t off = kMadtHeaderBytes, length = 0; off < madt.length; off += length) {
    if (!MadtEntryAt(mem, madt, off, log, b, &length)) return AcpiStatus::kBadMadt;
    const uint8_t type = b[0];
    switch (type) {
      case kMadtLocalApic:
        AddCpu(madt, off, b[3], b[2], static_cast<uint32_t>(Le(b + 4, 4)), false, log, out);
        break;
      case kMadtLocalX2Apic:
        AddCpu(madt, off, static_cast<uint32_t>(Le(b + 4, 4)), static_cast<uint32_t>(Le(b + 12, 4)),
               static_cast<uint32_t>(Le(b + 8, 4)), true, log, out);
        break;
      case kMadtLapicOverride:
        if (overridden) {
          log.Ignored("MADT entry at +%u: a second local APIC override, ignored", off);
        } else {
          out->lapic_base = PhysAddr(Le(b + 4, 8));
          overridden = true;
        }
        break;
    }
  }
  if (out->lapic_base.value() == 0 || !out->lapic_base.IsAlignedTo(kPageSize)) {
    log.Ignored("MADT at 0x%lx: local APIC base 0x%lx is not a page address, MADT ignored", madt.at.value(),
                out->lapic_base.value());
    return AcpiStatus::kBadMadt;
  }
  if (out->n == 0) {
    log.Ignored("MADT at 0x%lx: no usable processor (%u disabled), MADT ignored", madt.at.value(), out->disabled);
    return AcpiStatus::kBadMadt;
  }
  return AcpiStatus::kOk;
}

struct Root {
  const char* name;  // "XSDT" or "RSDT", which is also its signature
  PhysAddr at;
  uint32_t entry_bytes;  // 8 or 4: the width of its table pointers
};

// The MADT the root table lists: the first entry with the "APIC" signature, which must pass SdtAt; later
// ones are ignored, so a root of thousands of entries costs at most one MADT's checksum. kNoMadt when no
// valid one is listed. O(root entries) reads.
AcpiStatus FindMadt(AcpiMemory& mem, const Sdt& root, const Root& r, Log& log, Sdt* madt) {
  const uint32_t body = root.length - kSdtHeaderBytes;
  if (body % r.entry_bytes != 0) {
    log.Ignored("%s at 0x%lx: a partial entry of %u bytes at its end, ignored", r.name, root.at.value(),
                body % r.entry_bytes);
  }
  bool seen = false, found = false;
  for (uint32_t i = 0; i < body / r.entry_bytes; ++i) {
    uint8_t b[8];
    uint8_t sig[4];
    const bool readable = mem.Read(root.at + kSdtHeaderBytes + i * r.entry_bytes, b, r.entry_bytes);
    const PhysAddr at{readable ? Le(b, r.entry_bytes) : 0};
    if (!readable || !mem.Read(at, sig, sizeof sig)) {
      log.Ignored("%s entry %u: table at 0x%lx unreadable, ignored", r.name, i, at.value());
      continue;
    }
    if (!SameBytes(sig, "APIC", 4)) continue;
    if (seen) {
      log.Ignored("%s entry %u: another MADT at 0x%lx, ignored", r.name, i, at.value());
      continue;
    }
    seen = true;
    found = SdtAt(mem, at, "APIC", "MADT", kMadtHeaderBytes, kMaxMadtBytes, log, madt);
  }
  if (!found && !seen) log.Ignored("%s at 0x%lx lists no MADT", r.name, root.at.value());
  return found ? AcpiStatus::kOk : AcpiStatus::kNoMadt;
}

AcpiStatus Find(AcpiMemory& mem, Log& log, AcpiCpus* out) {
  Rsdp rsdp;
  if (!FindRsdp(mem, log, &rsdp)) {
    Print("acpi: no RSDP in the EBDA or at [0x%lx, 0x%lx)\n", kBiosArea.value(), kBiosArea.value() + kBiosAreaBytes);
    return AcpiStatus::kNoRsdp;
  }
  // The XSDT when the RSDP vouches for it, the RSDT behind it when it lies.
  const Root roots[] = {{"XSDT", PhysAddr(rsdp.xsdt), 8}, {"RSDT", PhysAddr(rsdp.rsdt), 4}};
  for (const Root& r : roots) {
    Sdt root;
    if (r.at.value() == 0) continue;
    if (!SdtAt(mem, r.at, r.name, r.name, kSdtHeaderBytes, kMaxRootBytes, log, &root)) {
      if (&r == &roots[0] && rsdp.rsdt != 0) Print("acpi: falling back to the RSDT at 0x%x\n", rsdp.rsdt);
      continue;
    }
    Sdt madt;
    AcpiStatus s = FindMadt(mem, root, r, log, &madt);
    if (s == AcpiStatus::kOk) s = WalkMadt(mem, madt, log, out);
    if (s != AcpiStatus::kOk) {
      *out = AcpiCpus{};
      return s;
    }
    if (out->beyond_max != 0) {
      Print("acpi: %u usable processors past the first %u (kMaxCpus) left out\n", out->beyond_max, kMaxCpus);
    }
    Print("acpi: RSDP at 0x%lx revision %u, %s at 0x%lx, MADT at 0x%lx: %u CPUs (%u disabled), local APIC at "
          "0x%lx%s\n",
          rsdp.at.value(), rsdp.revision, r.name, r.at.value(), madt.at.value(), out->n, out->disabled,
          out->lapic_base.value(), out->has_8259 ? ", 8259 PICs" : "");
    return AcpiStatus::kOk;
  }
  Print("acpi: RSDP at 0x%lx revision %u: no valid root table (RSDT 0x%x, XSDT 0x%lx)\n", rsdp.at.value(),
        rsdp.revision, rsdp.rsdt, rsdp.xsdt);
  return AcpiStatus::kBadRoot;
}

}  // namespace

const char* AcpiStatusName(AcpiStatus s) {
  switch (s) {
    case AcpiStatus::kOk: return "ok";
    case AcpiStatus::kNoRsdp: return "no RSDP";
    case AcpiStatus::kBadRoot: return "no valid root table";
    case AcpiStatus::kNoMadt: return "no valid MADT";
    case AcpiStatus::kBadMadt: return "no usable processor in the MADT";
  }
  return "?";
}

AcpiStatus AcpiFindCpus(AcpiMemory& mem, AcpiCpus* out) {
  *out = AcpiCpus{};
  Log log;
  const AcpiStatus s = Find(mem, log, out);
  log.Flush();
  return s;
}

}  // namespace kmem::x86
