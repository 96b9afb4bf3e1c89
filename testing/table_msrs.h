// MSRs for host tests of the memory-type decoder: recorded ones (testing/mtrr/NAME.txt, "MSR VALUE" lines)
// or values a test sets. Reading one that is not there fails the test: the decoder must stay within the
// ranges the CPU says it has.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "arch/x86_64/mtrr.h"

namespace kmem::testing {

class TableMsrs final : public x86::MsrSource {
 public:
  static constexpr uint64_t kValidMask = 1 << 11;  // PHYSMASKn.V

  static TableMsrs FromFile(const std::string& name) {
    TableMsrs t;
    std::ifstream in("testing/mtrr/" + name + ".txt");
    EXPECT_TRUE(in.good()) << name;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream f(line);
      uint32_t msr;
      uint64_t value;
      f >> std::hex >> msr >> value;
      EXPECT_FALSE(f.fail()) << name << ": " << line;
      t.msrs_[msr] = value;
    }
    return t;
  }

  // IA32_MTRRCAP with `vcnt` variable ranges and fixed ranges, all cleared; default type `def`, enabled.
  static TableMsrs Synthetic(unsigned vcnt, uint64_t def) {
    TableMsrs t;
    t.msrs_[x86::msr::kMtrrCap] = 0x500 | vcnt;
    t.msrs_[x86::msr::kMtrrDefType] = def;
    for (uint32_t m : {0x250u, 0x258u, 0x259u, 0x268u, 0x269u, 0x26au, 0x26bu, 0x26cu, 0x26du, 0x26eu, 0x26fu}) {
      t.msrs_[m] = 0;
    }
    for (unsigned n = 0; n < 2 * vcnt; ++n) t.msrs_[x86::msr::kMtrrPhysBase0 + n] = 0;
    return t;
  }

  // Variable range n: [base, base + size) of `type` on a 40-bit machine.
  void SetRange(unsigned n, uint64_t base, uint64_t size, uint8_t type) {
    SetRaw(n, base | type, (((uint64_t{1} << 40) - 1) & ~(size - 1)) | kValidMask);
  }
  void SetRaw(unsigned n, uint64_t base_msr, uint64_t mask_msr) {
    msrs_[x86::msr::kMtrrPhysBase0 + 2 * n] = base_msr;
    msrs_[x86::msr::kMtrrPhysBase0 + 2 * n + 1] = mask_msr;
  }
  void Set(uint32_t msr, uint64_t value) { msrs_[msr] = value; }

  uint64_t Read(uint32_t msr) override {
    auto it = msrs_.find(msr);
    if (it == msrs_.end()) {
      ADD_FAILURE() << "MSR 0x" << std::hex << msr << " is not recorded";
      return 0;
    }
    return it->second;
  }

 private:
  std::map<uint32_t, uint64_t> msrs_;
};

}  // namespace kmem::testing
