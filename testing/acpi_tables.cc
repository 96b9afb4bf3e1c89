#include "testing/acpi_tables.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "mm/base/panic.h"

namespace kmem::testing {
namespace {

void PutLe(Bytes* b, size_t at, uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i) (*b)[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

void Append(Bytes* b, uint64_t v, unsigned bytes) {
  b->resize(b->size() + bytes);
  PutLe(b, b->size() - bytes, v, bytes);
}

// Sets table[at] so that table[0, n) sums to 0 mod 256.
void ZeroSum(uint8_t* table, size_t at, size_t n) {
  table[at] = 0;
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + table[i]);
  table[at] = static_cast<uint8_t>(-sum);
}

Bytes Entry(uint8_t type, const Bytes& body) {
  Bytes e{type, static_cast<uint8_t>(2 + body.size())};
  e.insert(e.end(), body.begin(), body.end());
  return e;
}

}  // namespace

void AcpiImage::Map(uint64_t pa, uint64_t size) {
  auto next = regions_.lower_bound(pa);
  if ((next != regions_.end() && next->first < pa + size) ||
      (next != regions_.begin() && std::prev(next)->first + std::prev(next)->second.size() > pa)) {
    Panic("AcpiImage: region [0x%lx, +0x%lx) overlaps another", pa, size);
  }
  regions_[pa] = Bytes(size);
}

uint8_t* AcpiImage::Find(uint64_t pa, uint64_t n) {
  auto it = regions_.upper_bound(pa);
  if (it == regions_.begin()) return nullptr;
  --it;
  const uint64_t off = pa - it->first;
  if (off > it->second.size() || n > it->second.size() - off) return nullptr;
  return it->second.data() + off;
}

void AcpiImage::Write(uint64_t pa, const Bytes& bytes) {
  uint8_t* p = Find(pa, bytes.size());
  if (p == nullptr) Panic("AcpiImage: write of %zu bytes at 0x%lx outside every region", bytes.size(), pa);
  std::memcpy(p, bytes.data(), bytes.size());
}

void AcpiImage::Resum(uint64_t at, uint64_t from, uint64_t n) {
  uint8_t* p = Find(from, n);
  if (p == nullptr || at < from || at >= from + n) Panic("AcpiImage: bad Resum(0x%lx, 0x%lx, %lu)", at, from, n);
  ZeroSum(p, at - from, n);
}

bool AcpiImage::Read(PhysAddr pa, void* out, size_t n) {
  const uint8_t* p = Find(pa.value(), n);
  if (p == nullptr) return false;
  std::memcpy(out, p, n);
  bytes_read_ += n;
  largest_read_ = n > largest_read_ ? n : largest_read_;
  return true;
}

AcpiImage AcpiImage::Load(const std::string& dir) {
  AcpiImage image;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    const std::string name = file.path().filename().string();
    std::ifstream in(file.path(), std::ios::binary);
    Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const uint64_t pa = std::strtoull(name.c_str(), nullptr, 16);
    image.Map(pa, bytes.size());
    image.Write(pa, bytes);
  }
  if (image.regions_.empty()) Panic("AcpiImage: no recording in %s", dir.c_str());
  return image;
}

Bytes AcpiRsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
  Bytes b(revision < 2 ? 20 : 36);
  std::memcpy(b.data(), "RSD PTR ", 8);
  std::memcpy(b.data() + 9, "KMEM  ", 6);
  b[15] = revision;
  PutLe(&b, 16, rsdt, 4);
  ZeroSum(b.data(), 8, 20);
  if (revision < 2) return b;
  PutLe(&b, 20, b.size(), 4);
  PutLe(&b, 24, xsdt, 8);
  ZeroSum(b.data(), 32, b.size());
  return b;
}

Bytes AcpiTable(const char* signature, uint8_t revision, const Bytes& body) {
  Bytes b(36);
  std::memcpy(b.data(), signature, 4);
  PutLe(&b, 4, 36 + body.size(), 4);
  b[8] = revision;
  std::memcpy(b.data() + 10, "KMEM  KMEMTEST", 14);
  b.insert(b.end(), body.begin(), body.end());
  ZeroSum(b.data(), 9, b.size());
  return b;
}

Bytes AcpiRoot(const char* signature, const std::vector<uint64_t>& tables) {
  const unsigned width = std::strncmp(signature, "XSDT", 4) == 0 ? 8 : 4;
  Bytes body;
  for (uint64_t t : tables) Append(&body, t, width);
  return AcpiTable(signature, 1, body);
}

Bytes AcpiMadt(uint32_t lapic, uint32_t flags, const std::vector<Bytes>& entries, uint8_t revision) {
  Bytes body;
  Append(&body, lapic, 4);
  Append(&body, flags, 4);
  for (const Bytes& e : entries) body.insert(body.end(), e.begin(), e.end());
  return AcpiTable("APIC", revision, body);
}

Bytes MadtLocalApic(uint8_t uid, uint8_t apic_id, uint32_t flags) {
  Bytes body{uid, apic_id};
  Append(&body, flags, 4);
  return Entry(0, body);
}

Bytes MadtX2Apic(uint32_t x2apic_id, uint32_t uid, uint32_t flags) {
  Bytes body(2);
  Append(&body, x2apic_id, 4);
  Append(&body, flags, 4);
  Append(&body, uid, 4);
  return Entry(9, body);
}

Bytes MadtLapicOverride(uint64_t base) {
  Bytes body(2);
  Append(&body, base, 8);
  return Entry(5, body);
}

Bytes MadtIoApic(uint8_t id, uint32_t address) {
  Bytes body{id, 0};
  Append(&body, address, 4);
  Append(&body, 0, 4);  // global system interrupt base
  return Entry(1, body);
}

AcpiImage AcpiMachine(const Bytes& madt, uint8_t rsdp_revision, const AcpiLayout& layout) {
  AcpiImage image;
  image.Map(0, 0x100000);
  image.Map(kAcpiTablesArea, kAcpiTablesAreaBytes);
  image.Write(0x40e, Bytes{static_cast<uint8_t>(layout.ebda_segment), static_cast<uint8_t>(layout.ebda_segment >> 8)});
  const uint64_t xsdt = rsdp_revision >= 2 ? layout.xsdt : 0;
  image.Write(layout.rsdp, AcpiRsdp(rsdp_revision, static_cast<uint32_t>(layout.rsdt), xsdt));
  image.Write(layout.rsdt, AcpiRoot("RSDT", {layout.other, layout.madt}));
  if (xsdt != 0) image.Write(layout.xsdt, AcpiRoot("XSDT", {layout.other, layout.madt}));
  image.Write(layout.other, AcpiTable("HPET", 1, Bytes(20)));
  image.Write(layout.madt, madt);
  return image;
}

}  // namespace kmem::testing
