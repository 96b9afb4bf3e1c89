// Fuzz target for the ACPI CPU finder: the input after its first byte is physical memory from address 0,
// and the BIOS area [0xe0000, 0x100000) reads the same bytes again, so that the RSDP scan, the EBDA word at
// 0x40e and every table pointer land in the input; everything else is unreadable. Checksums are what a
// mutator rarely gets right, so when the first byte's bit 0 is set the harness first makes every RSDP and
// every "RSDT", "XSDT" and "APIC" table it can see sum to zero, letting the fuzzer reach the tables' bodies.
//
// Whatever the parser makes of it: it reads only through AcpiMemory (ASan watches the image), in pieces of
// at most 64 bytes, a bounded total; it prints only "acpi: " lines, a bounded number; and its answer keeps
// the interface's invariants (n <= kMaxCpus, unique APIC ids, a page-aligned local APIC, nothing on failure).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "arch/x86_64/pc/acpi.h"
#include "testing/console_capture.h"

namespace kmem::x86 {
namespace {

void Fail(const std::string& what) {
  std::fprintf(stderr, "acpi_fuzz: %s\n", what.c_str());
  std::abort();
}

constexpr uint64_t kBiosArea = 0xe0000, kBiosEnd = 0x100000;

class FuzzedMemory final : public AcpiMemory {
 public:
  FuzzedMemory(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool Read(PhysAddr pa, void* out, size_t n) override {
    if (n > 64) Fail("a read of " + std::to_string(n) + " bytes");
    bytes_read_ += n;
    uint64_t off = pa.value();
    if (off >= kBiosArea && off < kBiosEnd) off -= kBiosArea;
    if (off > size_ || n > size_ - off) return false;
    std::memcpy(out, data_ + off, n);
    return true;
  }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  const uint8_t* data_;
  size_t size_;
  uint64_t bytes_read_ = 0;
};

uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }

// Sets p[at] so that p[0, n) sums to 0 mod 256.
void ZeroSum(uint8_t* p, size_t at, size_t n) {
  p[at] = 0;
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
  p[at] = static_cast<uint8_t>(-sum);
}

void FixChecksums(uint8_t* p, size_t size) {
  for (size_t at = 0; at + 36 <= size; ++at) {
    if (at % 16 == 0 && std::memcmp(p + at, "RSD PTR ", 8) == 0) {
      ZeroSum(p + at, 8, 20);
      const uint32_t length = Le32(p + at + 20);
      if (p[at + 15] >= 2 && length >= 36 && length <= size - at) ZeroSum(p + at, 32, length);
    }
    const uint32_t length = Le32(p + at + 4);
    if ((std::memcmp(p + at, "RSDT", 4) == 0 || std::memcmp(p + at, "XSDT", 4) == 0 ||
         std::memcmp(p + at, "APIC", 4) == 0) &&
        length >= 10 && length <= size - at) {
      ZeroSum(p + at, 9, length);
    }
  }
}

void Check(AcpiStatus status, const AcpiCpus& cpus, const std::string& log, uint64_t bytes_read) {
  if (cpus.n > kMaxCpus) Fail("n > kMaxCpus");
  if ((status == AcpiStatus::kOk) != (cpus.n > 0)) Fail(std::string("n == 0 with status ") + AcpiStatusName(status));
  if (status != AcpiStatus::kOk && (cpus.beyond_max != 0 || cpus.disabled != 0 || cpus.lapic_base.value() != 0)) {
    Fail("a failed search left a result behind");
  }
  if (status == AcpiStatus::kOk && (cpus.lapic_base.value() == 0 || !cpus.lapic_base.IsAlignedTo(4096))) {
    Fail("local APIC base not a page address");
  }
  for (unsigned i = 0; i < cpus.n; ++i) {
    for (unsigned j = 0; j < i; ++j) {
      if (cpus.cpu[i].apic_id == cpus.cpu[j].apic_id) Fail("APIC id " + std::to_string(cpus.cpu[i].apic_id) + " twice");
    }
  }
  // The BIOS area's scan, two root tables and one MADT, each at its bound, with every entry read.
  if (bytes_read > (8u << 20)) Fail("read " + std::to_string(bytes_read) + " bytes");
  unsigned lines = 0;
  for (size_t at = 0; at < log.size(); ++lines) {
    if (log.compare(at, 6, "acpi: ") != 0) Fail("a line without 'acpi: ': " + log.substr(at));
    const size_t end = log.find('\n', at);
    if (end == std::string::npos) Fail("an unterminated line");
    at = end + 1;
  }
  // 16 ignored, their count, the fallback, the processors past kMaxCpus and the result.
  if (lines == 0 || lines > 20) Fail(std::to_string(lines) + " lines:\n" + log);
}

}  // namespace
}  // namespace kmem::x86

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmem::x86;
  if (size == 0) return 0;
  // A heap copy of exactly the image, so ASan sees any read past it.
  std::vector<uint8_t> image(data + 1, data + size);
  if ((data[0] & 1) != 0) FixChecksums(image.data(), image.size());
  FuzzedMemory mem(image.data(), image.size());
  AcpiCpus cpus;
  std::string log;
  AcpiStatus status;
  {
    kmem::testing::ConsoleCapture console;
    status = AcpiFindCpus(mem, &cpus);
    log = console.text();
  }
  Check(status, cpus, log, mem.bytes_read());
  return 0;
}
