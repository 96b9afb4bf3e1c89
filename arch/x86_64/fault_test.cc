#include "arch/x86_64/fault.h"

#include <gtest/gtest.h>

#include <string>

namespace kmem::x86 {
namespace {

std::string PageFault(uint64_t error) {
  char buf[128];
  DescribePageFaultError(error, buf, sizeof buf);
  return buf;
}

// Error code bits: 0 present, 1 write, 2 user, 3 reserved bit, 4 instruction fetch, 5 protection key.
TEST(Fault, PageFaultErrorCodesInWords) {
  EXPECT_EQ(PageFault(0), "kernel read of a not-present page");
  EXPECT_EQ(PageFault(0x2), "kernel write to a not-present page");
  EXPECT_EQ(PageFault(0x3), "kernel write to a page that forbids it");
  EXPECT_EQ(PageFault(0x11), "kernel instruction fetch from a page that forbids it");
  EXPECT_EQ(PageFault(0x5), "user read of a page that forbids it");
  EXPECT_EQ(PageFault(0x9), "kernel read of a page that forbids it, a reserved bit set in its entry");
  EXPECT_EQ(PageFault(0x27), "user write to a page that forbids it, protection key");
}

TEST(Fault, PageFaultDescriptionIsCutToTheBuffer) {
  char buf[12];
  DescribePageFaultError(0x11, buf, sizeof buf);
  EXPECT_EQ(std::string(buf), "kernel inst");
}

TEST(Fault, ExceptionNamesAndErrorCodes) {
  EXPECT_STREQ(ExceptionName(kPageFault), "page fault");
  EXPECT_STREQ(ExceptionName(kDoubleFault), "double fault");
  EXPECT_STREQ(ExceptionName(13), "general protection fault");
  EXPECT_STREQ(ExceptionName(22), "reserved exception");
  EXPECT_STREQ(ExceptionName(29), "VMM communication exception");
  EXPECT_STREQ(ExceptionName(200), "reserved exception");
  unsigned with_code = 0;
  for (unsigned v = 0; v < kExceptionVectors; ++v) with_code += ExceptionHasErrorCode(v) ? 1 : 0;
  EXPECT_EQ(with_code, 10u);  // 8, 10-14, 17, 21, 29, 30 (the SDM's list; trap_entry.S agrees)
  EXPECT_TRUE(ExceptionHasErrorCode(kPageFault));
  EXPECT_FALSE(ExceptionHasErrorCode(3));
}

TEST(Fault, TranslationsInWords) {
  char buf[128];
  DescribeTranslation({MmuStatus::kNotMapped, PhysAddr(), PageSize::k4K, Attr::kRead}, buf, sizeof buf);
  EXPECT_STREQ(buf, "not mapped");
  DescribeTranslation({MmuStatus::kOk, PhysAddr(0x1234000), PageSize::k2M, Attr::kWrite | Attr::kGlobal}, buf,
                      sizeof buf);
  EXPECT_STREQ(buf, "mapped by a 2M page to 0x1234000, flags -W-G-");
  DescribeTranslation({MmuStatus::kOk, PhysAddr(0x5000), PageSize::k4K, Attr::kUser | Attr::kExec}, buf, sizeof buf);
  EXPECT_STREQ(buf, "mapped by a 4K page to 0x5000, flags U-X--");
}

}  // namespace
}  // namespace kmem::x86
