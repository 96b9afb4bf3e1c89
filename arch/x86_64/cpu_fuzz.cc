// Fuzz target for CPU identification: CPUID as a hypervisor might answer it, any value in any register.
// Each leaf the decoder asks for takes the next 16 bytes of the input (zeros once it runs out). The decoder
// must ask only for leaves the CPU's maxima allow, and whatever it decodes must stay within the
// architecture's bounds: address widths, cache count, a power-of-two colour count, NUL-terminated strings.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "arch/x86_64/cpu.h"
#include "testing/console_capture.h"

namespace kmem::x86 {
namespace {

void Fail(const std::string& what) {
  std::fprintf(stderr, "cpu_fuzz: %s\n", what.c_str());
  std::abort();
}

class FuzzedCpuid final : public CpuidSource {
 public:
  FuzzedCpuid(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  CpuidRegs Query(uint32_t leaf, uint32_t subleaf) override {
    auto [it, fresh] = leaves_.try_emplace({leaf, subleaf});
    if (fresh) {
      uint32_t w[4] = {};
      const size_t n = size_ - used_ < sizeof(w) ? size_ - used_ : sizeof(w);
      std::memcpy(w, data_ + used_, n);
      used_ += n;
      it->second = {w[0], w[1], w[2], w[3]};
    }
    const bool ext = leaf >= 0x80000000;
    const uint32_t base = ext ? 0x80000000 : 0;
    if (leaf != base) {
      auto max = leaves_.find({base, 0});
      if (max == leaves_.end()) Fail("a leaf asked for before its maximum");
      if (leaf > max->second.eax || (ext && max->second.eax >= 0x80010000)) Fail("a leaf past the maximum");
    }
    return it->second;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t used_ = 0;
  std::map<std::pair<uint32_t, uint32_t>, CpuidRegs> leaves_;
};

void Check(const CpuInfo& cpu) {
  if (cpu.phys_bits < 32 || cpu.phys_bits > kMaxPhysBits) Fail("physical width " + std::to_string(cpu.phys_bits));
  if (cpu.virt_bits < 48 || cpu.virt_bits > kMaxVirtBits) Fail("virtual width " + std::to_string(cpu.virt_bits));
  if (cpu.ncaches > CpuInfo::kMaxCaches) Fail("too many caches");
  if (cpu.colours == 0 || (cpu.colours & (cpu.colours - 1)) != 0 || cpu.colours > kMaxColours) {
    Fail("colours " + std::to_string(cpu.colours));
  }
  if (cpu.vendor[sizeof(cpu.vendor) - 1] != '\0' || cpu.brand[sizeof(cpu.brand) - 1] != '\0') {
    Fail("a string without its NUL");
  }
  const size_t n = std::strlen(cpu.brand);
  if (n > 0 && (cpu.brand[0] == ' ' || cpu.brand[n - 1] == ' ')) Fail("brand keeps its blanks");
  for (size_t i = 0; i < cpu.ncaches; ++i) {
    const CpuCache& c = cpu.cache[i];
    if (c.ways == 0 || c.line_bytes == 0 || c.sets == 0 || c.bytes == 0) Fail("an empty cache");
    if (static_cast<int>(c.type) < 1 || static_cast<int>(c.type) > 3) Fail("a cache of no type");
  }
}

}  // namespace
}  // namespace kmem::x86

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmem::x86;
  FuzzedCpuid cpuid(data, size);
  const CpuInfo cpu = CpuIdentify(cpuid);
  Check(cpu);
  kmem::testing::ConsoleCapture quiet;
  CpuPrint(cpu, 0);
  CpuidDump(cpuid);
  return 0;
}
